"""Turning crops (paths, PIL images, numpy arrays) into the recognizer's input tensor."""

from __future__ import annotations

import io
import math
import os
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .interface import CorruptImageError, ImageError, MultiFrameWarning, NotAnImageError

if TYPE_CHECKING:
    import torch

# bytes: the contents of an image file (an upload, say).
ImageInput = str | Path | bytes | Image.Image | np.ndarray


def open_image(path: str | Path) -> Image.Image:
    """An RGB image from a file, upright according to its EXIF orientation.

    ``path`` may also be any object with ``Path``'s ``is_file``, ``stat`` and ``open``
    (a file in an object store). Of an animated or multi-page file (GIF, TIFF, WebP ...)
    only the first frame is read, with a ``MultiFrameWarning`` naming the file and its
    number of frames."""
    path = Path(path) if isinstance(path, str) else path
    if not path.is_file():
        raise ImageError(f"{path}: {why_not_a_file(path)}")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        handle = path.open("rb")
    except OSError as error:
        raise ImageError(f"{path}: cannot be read ({error})") from None
    with handle:
        return decode_image(handle, str(path))


def decode_image(data: bytes | BinaryIO, name: str = "image data") -> Image.Image:
    """An RGB image from the contents of an image file (bytes or an open binary file),
    upright according to its EXIF orientation; first frame only, as ``open_image``.

    Raises ``NotAnImageError`` when PIL recognises no image format in the data,
    ``CorruptImageError`` when the data is damaged or cut short; messages start with
    ``name``."""
    if isinstance(data, bytes):
        if not data:
            raise ImageError(f"{name}: empty, no image data")
        data = io.BytesIO(data)
    try:
        with Image.open(data) as image:
            # A camera's MPO JPEG holds previews (or a second view) besides the photo.
            if getattr(image, "is_animated", False) and image.format != "MPO":
                warnings.warn(
                    f"{name} has {image.n_frames} frames; only the first is read",
                    MultiFrameWarning,
                    stacklevel=3,
                )
            image.load()
            image = ImageOps.exif_transpose(image)
    except UnidentifiedImageError:
        raise NotAnImageError(f"{name}: not an image file PIL can read") from None
    # Besides OSError, PIL's decoders signal damaged data with the exceptions Image.open
    # itself treats as "not this format" (TypeError, IndexError, struct.error, ...).
    except (
        OSError,
        SyntaxError,
        ValueError,
        TypeError,
        IndexError,
        EOFError,
        struct.error,
    ) as error:
        raise CorruptImageError(f"{name}: corrupt or truncated image ({error})") from None
    return to_rgb(image)


def why_not_a_file(path: Path) -> str:
    """What stands at a path that is not a readable file, in words."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except FileNotFoundError:
            return f"broken symbolic link (to {os.readlink(path)})"
        except (RuntimeError, OSError):  # Python < 3.13 raises RuntimeError on a loop
            return "symbolic link loop"
    if path.is_dir():
        return "a folder, not an image file"
    return "no such file"


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of any PIL mode.

    16-bit and 32-bit images are scaled to 8 bits (PIL would clip them to white), and
    transparent ones are laid on a background that contrasts with what they show (dropping
    the alpha channel would leave black text on black)."""
    if image.mode == "RGB":
        return image
    if image.mode == "La":  # premultiplied alpha, which PIL converts only to LA
        image = image.convert("LA")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _deep_to_rgb(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return _flatten_transparency(image.convert("RGBA"))
    return image.convert("RGB")


def _deep_to_rgb(image: Image.Image) -> Image.Image:
    pixels = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0)  # NaN: black
    top = 65535.0 if pixels.max(initial=0) > 255 else 255.0
    gray = np.clip(pixels / top * 255.0, 0, 255).round().astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def _flatten_transparency(image: Image.Image) -> Image.Image:
    rgba = np.asarray(image, dtype=np.float32)
    alpha = rgba[:, :, 3:] / 255.0
    shown = alpha[:, :, 0] > 0.5
    luminance = rgba[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    dark = shown.any() and float(luminance[shown].mean()) < 128.0
    background = 255.0 if dark else 0.0
    flat = rgba[:, :, :3] * alpha + background * (1.0 - alpha)
    return Image.fromarray(flat.round().astype(np.uint8), "RGB")


def array_to_image(array: np.ndarray) -> Image.Image:
    """A PIL RGB image from an HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA) array.

    uint8 arrays are taken as they are; float arrays are expected in [0, 1].
    """
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"array of shape {array.shape} is not an HxW, HxWx3 or HxWx4 image")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"array of shape {array.shape} is empty")
    if np.issubdtype(array.dtype, np.floating):
        array = np.nan_to_num(array, nan=0.0)  # NaN: black; infinities: 0 or 1 once clipped
        array = (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageError(f"array of dtype {array.dtype}: expected uint8 or float in [0, 1]")
    return to_rgb(Image.fromarray(np.ascontiguousarray(array)))


def as_rgb_image(item: ImageInput) -> Image.Image:
    if isinstance(item, Image.Image):
        if item.width == 0 or item.height == 0:
            raise ImageError("PIL image of size 0")
        return to_rgb(item)
    if isinstance(item, np.ndarray):
        return array_to_image(item)
    if isinstance(item, (str, Path)):
        return open_image(item)
    if isinstance(item, bytes):
        return decode_image(item)
    raise ImageError(f"cannot read an image from a {type(item).__name__}")


RESIZE_MODES = ("stretch", "keep_aspect")


def check_resize(resize: str) -> None:
    """Refuse a ``resize`` that is not one of ``RESIZE_MODES``, naming the choices."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize={resize!r}: expected one of {', '.join(RESIZE_MODES)}")


def fitted_width(crop_height: int, crop_width: int, size: tuple[int, int]) -> int:
    """The width a ``"keep_aspect"`` crop of that shape fills at the input ``size``
    (height, width): its aspect ratio kept, at most the input width."""
    height, width = size
    return min(width, max(1, math.ceil(height * crop_width / max(1, crop_height))))


def fit_to_input(
    image: Image.Image,
    size: tuple[int, int],
    resize: str = "stretch",
    pad: Sequence[float] = (127.5, 127.5, 127.5),
) -> np.ndarray:
    """The crop's pixels ``(height, width, channels)`` at the model's input size.

    ``resize="stretch"`` (the released CLIP4STR models): PIL bicubic to (height, width),
    aspect ratio not kept; uint8. ``"keep_aspect"`` (encoders trained like PP-OCR's):
    OpenCV linear to the input height and the width that keeps the aspect ratio (at most the
    input width: a longer word is squeezed to it), the rest of the width filled with
    ``pad`` (per channel; the normalization mean makes it 0 in the model's input); float32."""
    check_resize(resize)
    height, width = size
    if resize == "stretch":
        return np.array(image.resize((width, height), Image.BICUBIC))
    import cv2

    pixels = np.asarray(image)
    fitted = fitted_width(pixels.shape[0], pixels.shape[1], size)
    fitted_pixels = cv2.resize(pixels, (fitted, height), interpolation=cv2.INTER_LINEAR)
    out = np.empty((height, width, pixels.shape[2]), np.float32)
    out[:] = np.asarray(pad, np.float32)
    out[:, :fitted] = fitted_pixels.reshape(height, fitted, -1)
    return out


def image_to_tensor(
    image: Image.Image,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    resize: str = "stretch",
) -> torch.Tensor:
    """Fit to (height, width) as ``fit_to_input`` does and normalize."""
    import torch  # here, not above: loading photos must not load PyTorch

    pad = [255.0 * m for m in mean]
    pixels = torch.from_numpy(fit_to_input(image, size, resize, pad)).permute(2, 0, 1)
    return normalize_pixels(pixels, mean, std)


def normalize_pixels(
    pixels: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """``(pixels / 255 - mean) / std`` for 0-255 RGB pixels ``(..., 3, H, W)``, in float32.

    Every path into the model (``read``, the MMOCR data preprocessor) normalizes here, so
    that they give the model bit-identical inputs."""
    import torch

    scaled = pixels.float() / 255.0
    mean_t = torch.tensor(mean, dtype=torch.float32, device=scaled.device).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=scaled.device).view(3, 1, 1)
    return (scaled - mean_t) / std_t


def preprocess_batch(
    images: Sequence[ImageInput],
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    resize: str = "stretch",
) -> torch.Tensor:
    """``(N, 3, H, W)`` normalized tensor of the given crops."""
    import torch

    return torch.stack([image_to_tensor(as_rgb_image(i), size, mean, std, resize) for i in images])
