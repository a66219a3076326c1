"""Exporters: a result in the formats other tools read, one small module per format.

    result.to("alto")                      # bytes of the ALTO document
    result.save("photo.pdf", image=rgb)    # the format from the file name
    ocr-pipeline run photos/ --out out/ --format json,alto,pdf

``FORMATS`` is the one registry: name -> ``Format`` (file suffix, description, renderer).
The searchable PDF needs the photo's pixels; the others only the result.
"""

from __future__ import annotations

from pathlib import Path

from . import alto, hocr, json_result, page_xml, pdf, plain_text, tsv
from .base import Format, Photo

FORMATS: dict[str, Format] = {
    module.FORMAT.name: module.FORMAT
    for module in (json_result, plain_text, tsv, hocr, alto, page_xml, pdf)
}

__all__ = ["FORMATS", "Format", "Photo", "format_for_path", "parse_formats", "render"]


def parse_formats(text: str) -> list[Format]:
    """``"json,alto,pdf"`` -> those formats, in that order; unknown names are a ValueError."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise ValueError(
            f"unknown output format {', '.join(unknown) or repr(text)}; choose from "
            f"{', '.join(FORMATS)} (several separated by commas)"
        )
    return [FORMATS[name] for name in dict.fromkeys(names)]


def format_for_path(path: str | Path) -> Format:
    """The format a file name asks for, by its suffix (``.alto.xml`` before ``.xml``)."""
    name = Path(path).name.lower()
    for fmt in sorted(FORMATS.values(), key=lambda f: -len(f.suffix)):
        if name.endswith(fmt.suffix):
            return fmt
    raise ValueError(
        f"{path}: cannot tell the format from the file name; use one of the suffixes "
        + ", ".join(f"{f.suffix} ({f.name})" for f in FORMATS.values())
        + " or name the format"
    )


def render(result, fmt: str | Format, photo: Photo | None = None) -> bytes:
    """The result in one format, as the bytes of a file."""
    if isinstance(fmt, str):
        (fmt,) = parse_formats(fmt)
    return fmt.render(result, photo or Photo(path=result.path))
