"""What every exporter shares: the format record and the geometry of the page in pixels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # type hints only: ``result`` imports the exporters
    from ..result import OCRResult


@dataclass(frozen=True)
class Photo:
    """The photo a result is for: what exporters may embed or name (both optional)."""

    path: str | None = None
    image: np.ndarray | None = None  # HxWx3 RGB uint8, EXIF-rotated like the result


@dataclass(frozen=True)
class Format:
    """An output format: its name, its file suffix and how a result is written in it."""

    name: str
    suffix: str  # appended to the photo's file name: photo.jpg -> photo.jpg.alto.xml
    description: str
    render: Callable[[OCRResult, Photo], bytes]
    needs_image: bool = False
    media_type: str = "application/octet-stream"  # what HTTP calls it (Content-Type)


def software_version() -> str:
    try:
        return version("ocr-pipeline")
    except PackageNotFoundError:
        return "unknown"


def clipped_points(polygon, width: int, height: int) -> list[tuple[int, int]]:
    """Integer points inside the image (formats with integer, non-negative coordinates)."""
    right, bottom = max(width - 1, 0), max(height - 1, 0)
    return [
        (min(max(round(float(x)), 0), right), min(max(round(float(y)), 0), bottom))
        for x, y in polygon
    ]


def bounding_box(polygons, width: int, height: int) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` in whole pixels around the polygons, inside the image."""
    points = [p for polygon in polygons for p in clipped_points(polygon, width, height)]
    if not points:
        return 0, 0, 0, 0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def percent(confidence: float) -> int:
    """A 0-1 confidence as the 0-100 integer of Tesseract-style formats."""
    return int(round(100 * min(max(float(confidence), 0.0), 1.0)))


def element_ids(block: int, line: int | None = None, word: int | None = None) -> str:
    """The ID of a block, line or word (1-based numbers), the same in PAGE-XML and ALTO."""
    parts = [f"region_{block}"]
    if line is not None:
        parts.append(f"line_{line}")
    if word is not None:
        parts.append(f"word_{word}")
    return "_".join(parts)
