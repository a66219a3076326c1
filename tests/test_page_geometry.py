"""Pages that are not upright and level: a tilted photo keeps its lines and its labels, a
photo taken sideways or upside down is turned upright and read."""

import numpy as np
import pytest
from conftest import REPO
from PIL import Image, ImageDraw, ImageFont

from pipeline import OCRPipeline
from pipeline.result import OCRResult, Word, assemble_page
from pipeline.visualize import draw_overlay


@pytest.fixture(scope="module")
def pipeline():
    # Every word kept: the page's title, a 16-letter word the default recognizer reads with
    # little confidence, must not fall under the cut-off in one picture and not the other.
    return OCRPipeline(min_confidence=0)


@pytest.fixture(scope="module")
def book_page():
    return Image.open(REPO / "demo" / "book_page.jpg").convert("RGB")


@pytest.mark.slow
def test_a_page_photographed_at_twelve_degrees_reads_line_by_line(pipeline, book_page):
    level = pipeline.ocr(book_page)
    tilted = pipeline.ocr(book_page.rotate(12, expand=True, fillcolor=(255, 255, 255)))
    # The same lines, in the same order, each with the same number of words (a letter may
    # read differently at an angle: the words' texts are not the point here).
    assert [len(line.words) for line in tilted.lines] == [len(line.words) for line in level.lines]
    # The title alone on its line (the default recognizer misreads its 16 letters, a little
    # differently at an angle), the body's last line read the same.
    assert len(tilted.lines[0].words) == len(level.lines[0].words) == 1
    assert tilted.lines[-1].text == level.lines[-1].text


def test_the_label_of_a_tilted_word_lies_along_its_top_edge():
    # A word tilted by 30 degrees: its label must follow its top edge, not float at the
    # corner of its axis-aligned bounding box.
    a = np.radians(30)
    start = np.array([100.0, 300.0])
    along, down = np.array([np.cos(a), -np.sin(a)]) * 200, np.array([np.sin(a), np.cos(a)]) * 40
    polygon = [start, start + along, start + along + down, start + down]
    word = Word([[float(x), float(y)] for x, y in polygon], "tilted", 0.9)
    result = assemble_page([word], [[0]], 500, 450)
    overlay = np.asarray(draw_overlay(np.full((450, 500, 3), 128, np.uint8), result))
    ys, xs = np.nonzero((overlay[..., 0] > 200) & (overlay[..., 1] > 200) & (overlay[..., 2] < 80))
    assert len(xs) > 20  # the yellow letters
    # Distance of each letter pixel above the top edge's line, along the word's "up".
    up = -down / np.linalg.norm(down)
    height = (np.stack([xs, ys], 1) - start) @ up
    assert 0 < np.median(height) < 25
    # ... and from its start along the edge: over the word, not beyond it.
    run = (np.stack([xs, ys], 1) - start) @ (along / np.linalg.norm(along))
    assert run.min() > -5 and run.max() < 200


@pytest.mark.slow
@pytest.mark.parametrize("turned", [90, 180, 270])
def test_a_page_photographed_sideways_or_upside_down_is_turned_and_read(
    pipeline, book_page, turned
):
    level = pipeline.ocr(book_page)
    photo = book_page.rotate(turned, expand=True)  # counterclockwise: needs `turned` back
    result = pipeline.ocr(photo)
    assert result.orientation == turned and level.orientation == 0
    assert (result.width, result.height) == photo.size
    # The body's first line reads the same (the title, misread either way, and other words
    # may come out a letter different after the turn's resampling).
    assert result.lines[1].text == level.lines[1].text
    same = sum(a.text == b.text for a, b in zip(result.words, level.words))
    assert len(result.words) == len(level.words) and same >= 0.9 * len(level.words)
    # Polygons in the photo's own pixels, starting at the upright text's top-left corner.
    first = np.asarray(level.words[0].polygon[0])
    width, height = book_page.size
    where = {90: (first[1], width - first[0]), 180: (width - first[0], height - first[1])}
    where[270] = (height - first[1], first[0])
    assert np.allclose(result.words[0].polygon[0], where[turned], atol=8)
    assert all(0 <= x <= photo.width and 0 <= y <= photo.height for x, y in result.words[0].polygon)


def test_orientation_is_recorded_and_read_back(tmp_path):
    word = Word([[10, 10], [50, 10], [50, 30], [10, 30]], "word", 0.9)
    upright = assemble_page([word], [[0]], 200, 100)
    turned = upright.turned_back(90)
    assert (turned.width, turned.height, turned.orientation) == (100, 200, 90)
    assert turned.words[0].polygon[0] == [10, 190]  # upright (10, 10), photo turned 90 ccw
    again = OCRResult.from_json(turned.to_json())
    assert again.orientation == 90 and again.to_dict() == turned.to_dict()
    assert OCRResult.from_dict({**upright.to_dict()}).orientation == 0


@pytest.mark.slow
def test_a_photo_that_is_one_text_line_is_read_level_or_standing(pipeline):
    font = ImageFont.truetype("DejaVuSans.ttf", 32)
    line = Image.new("RGB", (600, 45), "white")
    ImageDraw.Draw(line).text((10, 4), "Welcome to the garden", font=font, fill="black")
    assert pipeline.ocr(line).text == "Welcome to the garden"
    standing = pipeline.ocr(line.rotate(90, expand=True))  # 45 x 600, reading upwards
    assert standing.text == "Welcome to the garden"
