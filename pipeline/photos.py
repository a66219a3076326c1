"""Loading photos for the pipeline: any container PIL reads, upright, RGB, size-checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from recognizer.images import ImageError, as_rgb_image

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
# Above this many pixels a photo is refused rather than risk running out of memory
# (a 12000 x 12000 scan is 144 MP); raise it with OCRPipeline(max_pixels=...).
DEFAULT_MAX_PIXELS = 150_000_000


def load_photo(item, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An HxWx3 RGB uint8 array from a path, PIL image or array; EXIF rotation applied.

    Raises ``ImageError`` naming the input and the reason (missing, empty, not an image,
    truncated, too large).
    """
    name = str(item) if isinstance(item, (str, Path)) else type(item).__name__
    if isinstance(item, (str, Path)):
        _check_header_size(Path(item), max_pixels)
    try:
        image = as_rgb_image(item)
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: image too large to decode safely") from None
    if image.width * image.height > max_pixels:
        raise ImageError(
            f"{name}: {image.width}x{image.height} is more than {max_pixels} pixels; "
            "downscale it or raise max_pixels"
        )
    return np.asarray(image)


def _check_header_size(path: Path, max_pixels: int) -> None:
    """Refuse huge images from their header, before decoding a single pixel."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - decoding errors are reported by as_rgb_image
        return
    if width * height > max_pixels:
        raise ImageError(
            f"{path}: {width}x{height} is more than {max_pixels} pixels; downscale it or "
            "raise max_pixels"
        )


def find_photos(folder: Path) -> list[Path]:
    """Every path with a common image extension below ``folder`` that is not a folder, sorted.

    Broken symbolic links and link loops are listed too: reading them fails with a message
    naming them, instead of their being left out silently."""
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir()
    )
