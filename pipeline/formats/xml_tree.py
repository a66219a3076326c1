"""Building the XML formats: element helpers and serialisation."""

from __future__ import annotations

import xml.etree.ElementTree as ET

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def document(root: ET.Element, namespace: str) -> bytes:
    """The tree as a UTF-8 document with ``namespace`` as the default namespace."""
    ET.register_namespace("", namespace)
    ET.register_namespace("xsi", XSI)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def qualified(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"
