"""Loading photos for the pipeline: any container PIL reads, upright, RGB, size-checked."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from recognizer.images import ImageError, as_rgb_image, decode_image
from recognizer.interface import ImageTooLargeError

from .stores import StoredPath

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
# Above this many pixels a photo is refused rather than risk running out of memory
# (a 12000 x 12000 scan is 144 MP); raise it with OCRPipeline(max_pixels=...).
DEFAULT_MAX_PIXELS = 150_000_000


def load_photo(item, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An HxWx3 RGB uint8 array from a path (local or ``StoredPath``), the bytes of an image
    file, a PIL image or an array; EXIF rotation applied.

    The size is checked against ``max_pixels`` from the file's header, before decoding;
    PIL's own decompression-bomb limit is lifted to ``max_pixels`` meanwhile, so it
    neither refuses nor warns about a photo this limit allows.

    Raises ``ImageError`` naming the input and the reason (missing, empty, not an image,
    truncated, too large: ``ImageTooLargeError``).
    """
    stored = isinstance(item, StoredPath)
    named = stored or isinstance(item, (str, Path))
    name = str(item) if named else "image data" if isinstance(item, bytes) else type(item).__name__
    if stored:
        item = _fetch(item)  # once: the header check and the decoding both read these bytes
    encoded = isinstance(item, bytes)
    with pil_pixel_limit(max_pixels):
        if named or encoded:
            _check_header_size(item if encoded else Path(item), name, max_pixels)
        try:
            image = decode_image(item, name) if encoded else as_rgb_image(item)
        except Image.DecompressionBombError as error:
            raise ImageTooLargeError(
                f"{name}: too large to decode safely ({error}); downscale it or raise "
                f"max_pixels (now {max_pixels})"
            ) from None
    if image.width * image.height > max_pixels:
        raise ImageTooLargeError(_too_large(name, image.width, image.height, max_pixels))
    return np.asarray(image)


def _fetch(path: StoredPath) -> bytes:
    """The whole object, in one request; ``ImageError`` saying why there is none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as error:
        raise ImageError(f"{path}: cannot be read ({error})") from None
    if not data:
        raise ImageError(f"{path}: the file is empty")
    return data


def _too_large(name: str, width: int, height: int, max_pixels: int) -> str:
    return (
        f"{name}: {width}x{height} is {width * height} pixels, more than the limit of "
        f"{max_pixels}; downscale it or raise max_pixels"
    )


def _check_header_size(source: Path | bytes, name: str, max_pixels: int) -> None:
    """Refuse huge images from their header, before decoding a single pixel.

    PIL's own size check is off while the header is read (under the lock that guards
    PIL's limit): it would refuse the file without giving its size, or warn."""
    with _LIMIT_LOCK:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            handle = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
            with handle, Image.open(handle) as image:
                width, height = image.size
        except Exception:  # noqa: BLE001 - decoding errors are reported by as_rgb_image
            return
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    if width * height > max_pixels:
        raise ImageTooLargeError(_too_large(name, width, height, max_pixels))


# PIL's limit is a module global: the loads in progress (in any thread) each need it at
# least at their own max_pixels; it goes back to its value once none is in progress.
_LIMIT_LOCK = threading.Lock()
_limits_in_use: list[int] = []
_pil_limit_before: list[int | None] = []


@contextmanager
def pil_pixel_limit(max_pixels: int) -> Iterator[None]:
    """Within: ``Image.MAX_IMAGE_PIXELS`` is at least ``max_pixels`` (thread-safe)."""
    with _LIMIT_LOCK:
        if not _limits_in_use:
            _pil_limit_before[:] = [Image.MAX_IMAGE_PIXELS]
        _limits_in_use.append(max_pixels)
        _set_pil_limit()
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _limits_in_use.remove(max_pixels)
            _set_pil_limit()


def _set_pil_limit() -> None:
    before = _pil_limit_before[0]
    if not _limits_in_use or before is None:  # None: the user turned PIL's check off
        Image.MAX_IMAGE_PIXELS = before
    else:
        Image.MAX_IMAGE_PIXELS = max(before, *_limits_in_use)


def find_photos(folder: Path | StoredPath) -> list[Path | StoredPath]:
    """Every path with a common image extension below ``folder`` that is not a folder, sorted.

    Broken symbolic links and link loops are listed too: reading them fails with a message
    naming them, instead of their being left out silently."""
    if isinstance(folder, StoredPath):
        found = [p for p in folder.files_below() if p.suffix.lower() in IMAGE_EXTENSIONS]
        return sorted(found, key=str)
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir()
    )
