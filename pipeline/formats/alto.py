"""ALTO XML v4 (the Library of Congress's layout and text format, as digital libraries read it).

``Page`` > ``PrintSpace`` > ``TextBlock`` > ``TextLine`` > ``String`` (with ``SP`` between
words). Each element has its axis-aligned box (``HPOS``, ``VPOS``, ``WIDTH``, ``HEIGHT``) and,
since text in photos is often turned, its true outline as ``Shape/Polygon``; words carry their
confidence in ``WC`` (0-1). Measurement unit: pixels of the (EXIF-rotated) photo.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .base import Format, Photo, bounding_box, clipped_points, element_ids, software_version
from .xml_tree import XSI, document, qualified

NAMESPACE = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA_LOCATION = f"{NAMESPACE} http://www.loc.gov/standards/alto/v4/alto-4-2.xsd"


def _add(parent: ET.Element, name: str, **attributes) -> ET.Element:
    values = {k: str(v) for k, v in attributes.items() if v is not None}
    return ET.SubElement(parent, qualified(NAMESPACE, name), values)


def _placed(parent: ET.Element, name: str, polygon, width: int, height: int, **attributes):
    """An element with its box attributes and its outline (``Shape/Polygon``)."""
    left, top, right, bottom = bounding_box([polygon], width, height)
    element = _add(
        parent, name, **attributes, HPOS=left, VPOS=top, WIDTH=right - left, HEIGHT=bottom - top
    )
    points = " ".join(f"{x},{y}" for x, y in clipped_points(polygon, width, height))
    _add(_add(element, "Shape"), "Polygon", POINTS=points)
    return element


def render(result, photo: Photo) -> bytes:
    w, h = result.width, result.height
    location = {qualified(XSI, "schemaLocation"): SCHEMA_LOCATION}
    root = ET.Element(qualified(NAMESPACE, "alto"), {**location, "SCHEMAVERSION": "4.2"})
    description = _add(root, "Description")
    _add(description, "MeasurementUnit").text = "pixel"
    source = _add(description, "sourceImageInformation")
    _add(source, "fileName").text = Path(photo.path or result.path or "image").name
    software = _add(_add(description, "Processing", ID="processing_1"), "processingSoftware")
    _add(software, "softwareName").text = "ocr-pipeline"
    _add(software, "softwareVersion").text = software_version()
    page = _add(_add(root, "Layout"), "Page", ID="page_1", PHYSICAL_IMG_NR=1, WIDTH=w, HEIGHT=h)
    space = _add(page, "PrintSpace", HPOS=0, VPOS=0, WIDTH=w, HEIGHT=h)
    for b, block in enumerate((block for block in result.blocks if block.lines), 1):
        block_element = _placed(space, "TextBlock", block.polygon, w, h, ID=element_ids(b))
        for n, line in enumerate(block.lines, 1):
            line_id = element_ids(b, n)
            line_element = _placed(block_element, "TextLine", line.polygon, w, h, ID=line_id)
            for k, word in enumerate(line.words, 1):
                if k > 1:
                    _add(line_element, "SP")
                _placed(
                    line_element,
                    "String",
                    word.polygon,
                    w,
                    h,
                    ID=element_ids(b, n, k),
                    CONTENT=word.text,
                    WC=f"{min(max(word.confidence, 0.0), 1.0):.4f}",
                )
    return document(root, NAMESPACE)


FORMAT = Format(
    "alto", ".alto.xml", "ALTO XML v4 (digital libraries)", render, media_type="application/xml"
)
