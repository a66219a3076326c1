"""Searchable PDF: the photo as the page, with an invisible text layer on each word.

As OCRmyPDF and Tesseract make them: a PDF viewer shows the photo, and selecting, searching
or copying finds the words where they are in it. Each word is set in Helvetica (text
rendering mode 3, invisible) on its own baseline, sized to the word's height, stretched to its
width and turned with it. One pixel of the photo is one point of the page.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..layout import enclosing_rectangle
from .base import Format, Photo

if TYPE_CHECKING:
    from fpdf import FPDF

FONT = "helvetica"
# Helvetica's ascent and descent in units of the font size: a word whose box is h pixels
# high is set at size h / (ASCENT + DESCENT), its baseline DESCENT * size above the bottom.
ASCENT, DESCENT = 0.718, 0.207


class PhotoRequiredError(ValueError):
    """The format embeds the photo, and none was given."""


def _word_frame(polygon) -> tuple[np.ndarray, float, float, float]:
    """(bottom-left corner, angle in degrees counter-clockwise, width, height) of a word's
    quadrilateral, points clockwise from its top-left corner in image coordinates."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(points) != 4:  # a curved outline: its minimal rotated rectangle
        points = enclosing_rectangle([points]).astype(np.float64)
    top_left, top_right, bottom_right, bottom_left = points
    along = ((top_right - top_left) + (bottom_right - bottom_left)) / 2
    width = float(np.hypot(*along))
    left_side, right_side = bottom_left - top_left, bottom_right - top_right
    height = float((np.hypot(*left_side) + np.hypot(*right_side)) / 2)
    angle = -math.degrees(math.atan2(along[1], along[0]))  # image y points down
    return bottom_left, angle, width, height


def _encodable(text: str) -> str:
    """Helvetica (a PDF core font) covers Latin-1; anything else is set as '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def render(result, photo: Photo) -> bytes:
    if photo.image is None:
        raise PhotoRequiredError("the searchable PDF embeds the photo: give its pixels")
    # Imported here: fpdf2 takes half a second to import, and most runs write no PDF.
    from fpdf import FPDF
    from fpdf.enums import TextMode

    w, h = result.width, result.height
    pdf = FPDF(unit="pt", format=(w, h))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_creator("ocr-pipeline")
    pdf.add_page()
    buffer = io.BytesIO()
    Image.fromarray(photo.image).convert("RGB").save(buffer, format="JPEG", quality=90)
    pdf.image(buffer, x=0, y=0, w=w, h=h)
    pdf.text_mode = TextMode.INVISIBLE
    for line in result.lines:
        for k, word in enumerate(line.words):
            _place_word(pdf, word, space_after=k < len(line.words) - 1)
    return bytes(pdf.output())


def _place_word(pdf: FPDF, word, space_after: bool) -> None:
    """Set one word over its outline. Words of a line but the last are followed by a space
    (beyond the outline, as Tesseract does), so that copied text keeps the word breaks."""
    text = _encodable(word.text)
    corner, angle, width, height = _word_frame(word.polygon)
    if not text or width < 1 or height < 1:
        return
    size = height / (ASCENT + DESCENT)
    pdf.set_font(FONT, size=size)
    pdf.set_stretching(100.0)
    natural = pdf.get_string_width(text)
    if natural > 0:
        pdf.set_stretching(100.0 * width / natural)
    x, y = float(corner[0]), float(corner[1])
    with pdf.rotation(angle, x, y):
        pdf.text(x, y - DESCENT * size, text + (" " if space_after else ""))


FORMAT = Format(
    "pdf",
    ".pdf",
    "searchable PDF: the photo with invisible, selectable text",
    render,
    needs_image=True,
    media_type="application/pdf",
)
