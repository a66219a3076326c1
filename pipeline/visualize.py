"""Overlay pictures: detected polygons and the text read in each."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .result import OCRResult


def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def draw_overlay(image: np.ndarray, result: OCRResult) -> Image.Image:
    """The photo with each word's polygon outlined and its text written above it."""
    canvas = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(canvas, "RGBA")
    font = _font(max(12, canvas.height // 60))
    for word in result.words:
        points = [tuple(p) for p in word.polygon]
        draw.polygon(points, outline=(0, 220, 0, 255), fill=(0, 220, 0, 40))
        x = min(p[0] for p in points)
        y = min(p[1] for p in points)
        box = draw.textbbox((x, y), word.text, font=font, anchor="lb")
        draw.rectangle(box, fill=(0, 0, 0, 170))
        draw.text((x, y), word.text, font=font, fill=(255, 255, 0, 255), anchor="lb")
    return canvas
