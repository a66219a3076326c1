"""Cutting lines into words where PP-OCRv6 small's CTC line reading puts spaces
(pipeline.ctc_splitting), on drawn lines whose word positions are known."""

import cv2
import numpy as np
import pytest
from test_word_splitting import FONT, detector_box

from pipeline.ctc_splitting import (
    CTCWordSplitter,
    LineReading,
    ctc_characters,
    word_columns,
    word_readings,
)
from pipeline.splitters import make_word_splitter
from pipeline.stages import Detection
from pipeline.word_splitting import WordSplitter

pytest.importorskip("onnxruntime")


def one_hot(classes: list[int], size: int = 5) -> np.ndarray:
    table = np.zeros((len(classes), size), np.float32)
    table[np.arange(len(classes)), classes] = 1.0
    return table


def test_ctc_characters_are_runs_of_one_class_between_blanks_with_their_columns():
    alphabet = ["", "a", "b", "c", " "]
    # a a _ a b b _ _ space c: "aab c" with the repeated "a" split by a blank.
    reading = ctc_characters(one_hot([1, 1, 0, 1, 2, 2, 0, 0, 4, 3]), alphabet, width=80)
    assert "".join(reading.chars) == "aab c"
    assert reading.starts.tolist() == [0, 24, 32, 64, 72]
    assert reading.ends.tolist() == [16, 32, 48, 72, 80]


def test_a_blank_frame_likely_enough_a_space_is_read_as_one_when_asked():
    alphabet = ["", "a", "b", " "]
    # a _ b, the blank frame 35% a space: one word unless a space from 30% on is asked for.
    table = one_hot([1, 0, 2], size=4)
    table[1] = [0.65, 0.0, 0.0, 0.35]
    assert "".join(ctc_characters(table, alphabet, width=24).chars) == "ab"
    assert "".join(ctc_characters(table, alphabet, width=24, space_above=0.4).chars) == "ab"
    loose = ctc_characters(table, alphabet, width=24, space_above=0.3)
    assert "".join(loose.chars) == "a b"
    assert [(round(a), round(b)) for a, b in word_columns(loose, trim=5)] == [(0, 12), (12, 24)]
    # The confidence stays that of the characters read outright.
    assert loose.confidence == ctc_characters(table, alphabet, width=24).confidence == 1.0


def test_each_word_keeps_its_text_and_the_probabilities_of_its_characters():
    alphabet = ["", "a", "b", "c", " "]
    table = one_hot([1, 1, 0, 2, 4, 3, 3])
    table[0] = [0.1, 0.6, 0.1, 0.1, 0.1]  # "a": its best frame (0.6 and 1.0) counts
    table[5] = [0.0, 0.0, 0.2, 0.8, 0.0]  # "c": 0.8 and 1.0
    table[6] = [0.1, 0.0, 0.0, 0.9, 0.0]
    reading = ctc_characters(table, alphabet, width=56)
    assert reading.scores.tolist() == pytest.approx([1.0, 1.0, 1.0, 0.9])
    first, second = word_readings(reading)
    assert (first.text, second.text) == ("ab", "c")
    assert first.char_confidences == pytest.approx([1.0, 1.0])
    assert second.confidence == pytest.approx(0.9)
    # Read from the strip turned over, the words come in the other order along the strip,
    # each still spelled in reading order.
    turned = word_readings(reading.turned())
    assert [w.text for w in turned] == ["c", "ab"]
    assert turned[0].confidence == pytest.approx(0.9)
    assert [w.text for w in word_readings(reading.turned().turned())] == ["ab", "c"]
    assert len(word_columns(reading)) == 2


def test_words_are_cut_halfway_across_each_space_and_trimmed_at_the_ends():
    # Characters every 10 columns; a space between the 3rd and 4th; a 200-column strip.
    chars = list("abc") + [" "] + list("de")
    starts = np.array([20, 30, 40, 60, 80, 90], float)
    reading = LineReading(chars, starts, starts + 6, 200)
    # Reaching far: the words meet halfway across the space.
    (_, a_end), (b_start, _) = word_columns(reading, trim=5)
    assert a_end == b_start == pytest.approx((46 + 80) / 2)
    # Reaching one pitch from the outer characters' centres: the ends and the wide space
    # are trimmed (the strip runs on to column 200).
    (a_start, a_end), (b_start, b_end) = word_columns(reading, trim=0.5)
    assert (a_start, a_end) == pytest.approx((23 - 10, 43 + 10))
    assert (b_start, b_end) == pytest.approx((83 - 10, 93 + 10))
    assert word_columns(LineReading([" "], np.zeros(1), np.ones(1), 10)) == []


def draw_words(words: list[str], gaps: list[int], size=(140, 900)):
    """Dark words on a light BGR image, ``gaps[i]`` pixels before word i; their ink boxes."""
    image = np.full((*size, 3), 205, np.uint8)
    boxes, x = [], 30
    for word, gap in zip(words, gaps):
        x += gap
        alone = np.zeros(size, np.uint8)
        cv2.putText(alone, word, (x, 90), FONT, 1.5, 255, 3, cv2.LINE_AA)
        ys, xs = np.nonzero(alone > 127)
        boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
        image[alone > 127] = 35
        x = xs.max() + 1
    return image, np.array(boxes, dtype=np.float64)


@pytest.fixture(scope="module")
def splitter():
    return CTCWordSplitter()


def test_a_line_is_cut_into_its_words_each_holding_its_whole_ink(splitter):
    image, boxes = draw_words(["OPEN", "LATE", "TODAY"], [0, 30, 30])
    line = detector_box(boxes, pad=12)
    height = line[2, 1] - line[0, 1]
    words = sorted(splitter.split(line, image), key=lambda q: q[:, 0].min())
    assert len(words) == 3
    for i, (word, (x0, _, x1, _)) in enumerate(zip(words, boxes)):
        start, end = word[:, 0].min(), word[:, 0].max()
        assert start <= x0 and end >= x1, f"word {i} cuts its ink off"
        # Nothing of a neighbour's ink, and little of the gap.
        if i > 0:
            assert start >= boxes[i - 1, 2]
        if i < len(boxes) - 1:
            assert end <= boxes[i + 1, 0]
        assert x0 - start < 0.6 * height and end - x1 < 0.6 * height


def test_words_with_touching_letters_and_narrow_spaces_are_still_cut(splitter):
    # Spaces of 14 pixels at a letter height of about 35: ink gaps between letters of one
    # word are near that wide in this font, so the ink splitter sees no word gaps at all.
    image, boxes = draw_words(["PARKING", "ONLY", "HERE"], [0, 14, 14])
    line = detector_box(boxes, pad=10)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    words = splitter.split(line, image)
    assert len(words) == 3
    assert len(WordSplitter().split(line, gray)) != 3  # what the ink splitter does instead


def test_a_rotated_line_gives_words_along_its_direction(splitter):
    image, boxes = draw_words(["EAST", "GATE"], [0, 34], size=(500, 900))
    line = detector_box(boxes, pad=10)
    centre = (450.0, 250.0)
    turn = cv2.getRotationMatrix2D(centre, 20, 1.0)  # counter-clockwise in the picture
    rotated = cv2.warpAffine(image, turn, (900, 500), borderValue=(205, 205, 205))
    moved = cv2.transform(line[None].astype(np.float32), turn)[0]
    words = splitter.split(moved, rotated)
    assert len(words) == 2
    back = cv2.invertAffineTransform(turn)
    for word, (x0, _, x1, _) in zip(sorted(words, key=lambda q: q[:, 0].min()), boxes):
        upright = cv2.transform(word[None].astype(np.float32), back)[0]
        assert upright[:, 0].min() <= x0 + 2 and upright[:, 0].max() >= x1 - 2


def test_a_line_with_nothing_to_read_is_kept_whole(splitter):
    blank = np.full((100, 400, 3), 128, np.uint8)
    line = np.array([[20, 20], [380, 20], [380, 80], [20, 80]], float)
    (word,) = splitter.split(line, blank)
    assert word[:, 0].min() == pytest.approx(20, abs=1) and word[:, 0].max() == pytest.approx(
        380, abs=1
    )


def test_the_pipeline_stage_takes_rgb_and_keeps_each_lines_score(splitter):
    image, boxes = draw_words(["NORTH", "SIDE"], [0, 34])
    line = Detection(detector_box(boxes, pad=10).astype(np.float32), 0.87)
    words = splitter.split_detections(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), [line])
    assert len(words) == 2 and all(w.score == pytest.approx(0.87) for w in words)
    # Each word carries the line reader's reading of it, for the pipeline to weigh.
    assert [w.reading.text for w in words] == ["NORTH", "SIDE"]
    assert all(0.5 < w.reading.confidence <= 1.0 for w in words)


def test_settings_choose_the_method_and_a_bad_one_is_named():
    assert isinstance(make_word_splitter({}), CTCWordSplitter)
    assert isinstance(make_word_splitter({"method": "ink", "min_gap": 0.2}), WordSplitter)
    with pytest.raises(ValueError, match="must be one of .*'ink'.*not 'gaps'"):
        make_word_splitter({"method": "gaps"})


def test_a_model_file_that_is_not_a_line_reader_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="other.onnx has no 'character' list"):
        CTCWordSplitter(model_file=str(path)).split(
            np.array([[0, 0], [40, 0], [40, 10], [0, 10]], float), np.zeros((20, 50, 3), np.uint8)
        )


@pytest.mark.parametrize("turn", [cv2.ROTATE_180, cv2.ROTATE_90_CLOCKWISE])
def test_a_line_upside_down_or_standing_is_cut_as_it_reads(splitter, turn):
    # Lines are cut before the page is turned upright: a photo taken upside down or sideways
    # gives strips that stand on their heads, which the reader must read turned back.
    image, boxes = draw_words(["NORTH", "GATE", "PARKING"], [0, 30, 30])
    line = detector_box(boxes, pad=12)
    height, width = image.shape[:2]
    turned = cv2.rotate(image, turn)
    if turn == cv2.ROTATE_180:
        moved = np.stack([width - line[:, 0], height - line[:, 1]], 1)
        ink = [(width - x1, width - x0) for x0, _, x1, _ in boxes]
        axis = 0
    else:  # clockwise: (x, y) -> (height - y, x); the words run downwards
        moved = np.stack([height - line[:, 1], line[:, 0]], 1)
        ink = [(x0, x1) for x0, _, x1, _ in boxes]
        axis = 1
    words = splitter.split(moved, turned)
    assert len(words) == 3
    spans = sorted((w[:, axis].min(), w[:, axis].max()) for w in words)
    for (start, end), (first, last) in zip(spans, sorted(ink)):
        assert start <= first + 2 and end >= last - 2
