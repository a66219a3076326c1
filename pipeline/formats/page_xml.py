"""PAGE-XML 2019 (PRImA's page content format, as read by OCR-D and Transkribus).

``TextRegion`` (a block) > ``TextLine`` > ``Word``, each with its ``Coords`` polygon and a
``TextEquiv`` carrying its text and confidence (0-1); the ``ReadingOrder`` lists the regions
in reading order. Points are whole pixels inside the image, as the schema requires.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from .base import Format, Photo, clipped_points, element_ids, software_version
from .xml_tree import XSI, document, qualified

NAMESPACE = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
SCHEMA_LOCATION = f"{NAMESPACE} {NAMESPACE}/pagecontent.xsd"


def _tag(name: str) -> str:
    return qualified(NAMESPACE, name)


def _add(parent: ET.Element, name: str, **attributes) -> ET.Element:
    return ET.SubElement(parent, _tag(name), {k: str(v) for k, v in attributes.items()})


def _coords(parent: ET.Element, polygon, width: int, height: int) -> None:
    points = " ".join(f"{x},{y}" for x, y in clipped_points(polygon, width, height))
    _add(parent, "Coords", points=points)


def _text_equiv(parent: ET.Element, text: str, confidence: float) -> None:
    equiv = _add(parent, "TextEquiv", conf=f"{min(max(confidence, 0.0), 1.0):.4f}")
    _add(equiv, "Unicode").text = text


def render(result, photo: Photo) -> bytes:
    w, h = result.width, result.height
    root = ET.Element(_tag("PcGts"), {qualified(XSI, "schemaLocation"): SCHEMA_LOCATION})
    metadata = _add(root, "Metadata")
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    for name, text in (("Creator", f"ocr-pipeline {software_version()}"), ("Created", now)):
        _add(metadata, name).text = text
    _add(metadata, "LastChange").text = now
    name = Path(photo.path or result.path or "image").name
    page = _add(root, "Page", imageFilename=name, imageWidth=w, imageHeight=h)
    blocks = [block for block in result.blocks if block.lines]
    if blocks:
        group = _add(_add(page, "ReadingOrder"), "OrderedGroup", id="reading_order")
        for index in range(len(blocks)):
            _add(group, "RegionRefIndexed", index=index, regionRef=element_ids(index + 1))
    for b, block in enumerate(blocks, 1):
        region = _add(page, "TextRegion", id=element_ids(b), type="paragraph")
        _coords(region, block.polygon, w, h)
        for n, line in enumerate(block.lines, 1):
            line_element = _add(region, "TextLine", id=element_ids(b, n))
            _coords(line_element, line.polygon, w, h)
            for k, word in enumerate(line.words, 1):
                word_element = _add(line_element, "Word", id=element_ids(b, n, k))
                _coords(word_element, word.polygon, w, h)
                _text_equiv(word_element, word.text, word.confidence)
            _text_equiv(line_element, line.text, line.confidence)
        _text_equiv(region, block.text, block.confidence)
    return document(root, NAMESPACE)


FORMAT = Format(
    "page", ".page.xml", "PAGE-XML 2019 (OCR-D, Transkribus)", render, media_type="application/xml"
)
