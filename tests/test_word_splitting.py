"""Cutting detected text lines into words (pipeline.word_splitting) on drawn lines."""

import cv2
import numpy as np
import pytest
from conftest import REPO

from pipeline import OCRPipeline
from pipeline.stages import Detection
from pipeline.word_splitting import LineFrame, WordSplitter, word_spans
from recognizer import Reading

FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_line(pieces: list[tuple[str, int]], size=(140, 760)):
    """Dark text on a light background; returns the gray image and each piece's ink box.

    ``pieces`` are (text, gap before it in pixels). The ink boxes are measured from what was
    drawn, so the test knows exactly where every word is.
    """
    image = np.full(size, 200, np.uint8)
    boxes, x = [], 30
    for text, gap in pieces:
        x += gap
        alone = np.zeros(size, np.uint8)
        cv2.putText(alone, text, (x, 90), FONT, 1.6, 255, 4, cv2.LINE_AA)
        ys, xs = np.nonzero(alone > 127)
        boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
        image[alone > 127] = 40
        x = xs.max() + 1
    return image, np.array(boxes, dtype=np.float64)


def detector_box(ink_boxes: np.ndarray, pad: float) -> np.ndarray:
    """The line polygon a detector would return: the ink's box with some margin."""
    x0, y0 = ink_boxes[:, :2].min(axis=0) - pad
    x1, y1 = ink_boxes[:, 2:].max(axis=0) + pad
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def along_extent(quad: np.ndarray) -> tuple[float, float]:
    return float(quad[:, 0].min()), float(quad[:, 0].max())


def test_line_is_cut_at_word_gaps_and_each_word_covers_its_ink():
    image, words = draw_line([("OPEN", 0), ("LATE", 34), ("TODAY", 30)])
    line = detector_box(words, pad=12)
    height = line[2, 1] - line[0, 1]

    quads = WordSplitter().split(line, image)

    assert len(quads) == 3
    for quad, (x0, _, x1, _) in zip(sorted(quads, key=lambda q: q[:, 0].min()), words):
        start, end = along_extent(quad)
        assert start <= x0 and end >= x1  # the whole word
        assert x0 - start < 0.3 * height and end - x1 < 0.3 * height  # and little else
        # Words keep the line's height.
        assert quad[:, 1].max() - quad[:, 1].min() == pytest.approx(height, abs=1)


def test_rotated_line_is_split_along_its_own_direction():
    image, words = draw_line([("OPEN", 0), ("LATE", 34), ("TODAY", 30)])
    line = detector_box(words, pad=12)
    turn = cv2.getRotationMatrix2D((380, 70), 15, 1.0)  # 15 degrees counter-clockwise
    turn[:, 2] += (0, 120)  # keep the rotated line inside the canvas
    rotated = cv2.warpAffine(image, turn, (760, 380), borderValue=200)

    def move(points):
        return np.c_[points, np.ones(len(points))] @ turn.T

    quads = WordSplitter().split(move(line), rotated)

    assert len(quads) == 3
    centers = move((words[:, :2] + words[:, 2:]) / 2)
    for center in centers:
        inside = [
            cv2.pointPolygonTest(q.astype(np.float32), tuple(center), False) > 0 for q in quads
        ]
        assert sum(inside) == 1


def test_evenly_letter_spaced_word_stays_whole():
    spaced = [("S", 0), ("A", 26), ("L", 26), ("E", 26)]
    image, letters = draw_line(spaced)
    line = detector_box(letters, pad=12)

    assert len(WordSplitter().split(line, image)) == 1
    # Without the gap-relative rule the same gaps would count as word gaps.
    assert len(WordSplitter(relative_gap=0).split(line, image)) == 4


def test_light_text_on_dark_background_is_split_too():
    image, words = draw_line([("OPEN", 0), ("LATE", 34), ("TODAY", 30)])
    line = detector_box(words, pad=12)
    assert len(WordSplitter().split(line, 255 - image)) == 3


def test_line_without_gaps_is_one_word():
    image, words = draw_line([("WELCOME", 0)])
    line = detector_box(words, pad=12)
    (quad,) = WordSplitter().split(line, image)
    start, end = along_extent(quad)
    assert start <= words[0, 0] and end >= words[0, 2]


def test_word_spans_from_a_column_profile():
    empty = np.array([1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1], dtype=bool)
    # Gaps of 1 and 3 columns: only the 3-column gap separates words; ends are trimmed.
    assert word_spans(empty, min_gap=2) == [(2, 7), (10, 12)]
    assert word_spans(empty, min_gap=1) == [(2, 4), (5, 7), (10, 12)]
    # Relative rule: a word gap must be >= 2x the median gap (here median 2 -> threshold 4).
    assert word_spans(empty, min_gap=1, relative_gap=2.0) == [(2, 12)]
    assert word_spans(np.ones(5, dtype=bool), min_gap=1) == []


def test_line_frame_reads_left_to_right_along_the_long_side():
    tall_box_points = np.array([[10, 10], [10, 110], [40, 110], [40, 10]])  # vertical line
    frame = LineFrame.around(tall_box_points)
    assert frame.length == pytest.approx(100) and frame.height == pytest.approx(30)
    quad = frame.quad(0, frame.length)
    assert sorted(map(tuple, quad.round())) == sorted(map(tuple, tall_box_points.astype(float)))


def test_unknown_profile_is_rejected():
    with pytest.raises(ValueError, match="profile"):
        WordSplitter(profile="edges")


class WholeImageDetector:
    """A line detector: one region around all the ink of each image."""

    def detect(self, images):
        regions = []
        for image in images:
            ys, xs = np.nonzero(image.min(axis=2) < 128)
            x0, y0, x1, y1 = xs.min() - 12, ys.min() - 12, xs.max() + 13, ys.max() + 13
            polygon = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
            regions.append([Detection(polygon, 0.8)])
        return regions


class WidthReader:
    def read(self, crops, batch_size=64):
        return [Reading(f"w{np.asarray(c).shape[1]}", 0.9, [0.9]) for c in crops]


def test_the_pipeline_cuts_any_detectors_lines_into_words_when_asked():
    gray, ink = draw_line([("OPEN", 0), ("LATE", 34), ("TODAY", 30)])
    photo = np.repeat(gray[:, :, None], 3, axis=2)
    as_lines = OCRPipeline(WholeImageDetector(), WidthReader()).ocr(photo)
    assert len(as_lines.words) == 1
    as_words = OCRPipeline(WholeImageDetector(), WidthReader(), word_splitter=WordSplitter())
    words = as_words.ocr(photo).words
    assert len(words) == 3
    for word, (x0, _, x1, _) in zip(words, ink):
        left, right = min(p[0] for p in word.polygon), max(p[0] for p in word.polygon)
        assert left <= x0 and right >= x1  # each word box holds its whole word
        assert right - left < 2 * (x1 - x0)
    assert all(word.detection_score == 0.8 for word in words)


def test_a_detector_that_cuts_words_itself_is_not_cut_again(tmp_path):
    from pipeline.openmmlab.detector import MMOCRDetector

    detector = MMOCRDetector("default")
    assert detector.cuts_words
    with pytest.raises(ValueError, match="already cuts its lines into words.*default-ink"):
        OCRPipeline(detector, WidthReader(), word_splitter=WordSplitter())
    OCRPipeline(detector, WidthReader())  # alone it stands
    # The same detector with its lines left whole is cut by the pipeline.
    lines = tmp_path / "lines.py"
    default = REPO / "detector_configs" / "default.py"
    lines.write_text(f"_base_ = [{str(default)!r}]\nmodel = dict(word_splitter=None)\n")
    line_detector = MMOCRDetector(lines)
    assert not line_detector.cuts_words
    assert OCRPipeline(line_detector, WidthReader(), word_splitter=WordSplitter()).word_splitter
