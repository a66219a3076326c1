"""Overlay pictures: detected polygons and the text read in each."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .result import OCRResult

# Words within this many degrees of level get an upright label above their box.
LEVEL_DEGREES = 2.0


def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def draw_overlay(image: np.ndarray, result: OCRResult) -> Image.Image:
    """The photo with each word's polygon outlined and its text written along its top
    edge (turned with the word when the word is tilted)."""
    canvas = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(canvas, "RGBA")
    font = _font(max(12, canvas.height // 60))
    labels = []
    for word in result.words:
        points = [tuple(p) for p in word.polygon]
        draw.polygon(points, outline=(0, 220, 0, 255), fill=(0, 220, 0, 40))
        labels.append((points, word.text))
    canvas = canvas.convert("RGBA")
    for points, text in labels:
        _write_label(canvas, points, text, font)
    return canvas.convert("RGB")


def _write_label(canvas: Image.Image, points: list, text: str, font) -> None:
    """``text`` on a dark band whose bottom-left corner is the word's first point (the
    top-left corner of its text), along the word's top edge; a level word's band sits
    upright on the top of its box."""
    band = _label_band(text, font, ImageDraw.Draw(canvas).textbbox((0, 0), text, font=font))
    (x0, y0), (x1, y1) = points[0], points[1 % len(points)]
    angle = float(np.degrees(np.arctan2(y0 - y1, x1 - x0)))  # counterclockwise on screen
    if len(points) < 4 or abs(angle) < LEVEL_DEGREES:
        x, y = min(p[0] for p in points), min(p[1] for p in points)
        canvas.alpha_composite(band, _on_canvas(canvas, band, x, y - band.height))
        return
    turned = band.rotate(angle, expand=True, resample=Image.BICUBIC)
    # Where the band's bottom-left corner went: turn it about the band's center.
    half_w, half_h = band.width / 2, band.height / 2
    a = np.radians(angle)
    corner_x = -half_w * np.cos(a) + half_h * np.sin(a) + turned.width / 2
    corner_y = half_w * np.sin(a) + half_h * np.cos(a) + turned.height / 2
    canvas.alpha_composite(turned, _on_canvas(canvas, turned, x0 - corner_x, y0 - corner_y))


def _label_band(text: str, font, box: tuple) -> Image.Image:
    width, height = max(1, int(box[2] - box[0]) + 2), max(1, int(box[3] - box[1]) + 2)
    band = Image.new("RGBA", (width, height), (0, 0, 0, 170))
    ImageDraw.Draw(band).text((1 - box[0], 1 - box[1]), text, font=font, fill=(255, 255, 0, 255))
    return band


def _on_canvas(canvas: Image.Image, picture: Image.Image, x: float, y: float) -> tuple:
    """``(x, y)`` moved just enough for ``picture`` to lie on ``canvas`` where it can."""
    x = min(max(0.0, x), max(0.0, canvas.width - picture.width))
    y = min(max(0.0, y), max(0.0, canvas.height - picture.height))
    return int(round(x)), int(round(y))
