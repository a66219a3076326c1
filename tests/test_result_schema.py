"""The JSON form of a result follows the documented, versioned schema."""

import copy
import json

import numpy as np
import pytest

from pipeline.layout import group_into_lines
from pipeline.result import (
    SCHEMA_VERSION,
    Block,
    Line,
    OCRResult,
    Word,
    assemble_page,
)


def rect(x, y, w, h):
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def test_json_has_versioned_schema_polygons_and_reading_order():
    hello = Word(rect(10, 10, 40, 20), "Hello", 0.987654, 0.9)
    world = Word(rect(60, 10, 40, 20), "world", 0.6123)
    line = Line(rect(10, 10, 90, 20), [hello, world])
    result = OCRResult(
        [Block(line.polygon, [line])],
        width=200,
        height=100,
        path="a.jpg",
        models={"detector": "default", "recognizer": "default"},
    )
    data = json.loads(result.to_json())
    assert data["schema"] == "ocr-pipeline/result" and data["schema_version"] == SCHEMA_VERSION
    assert SCHEMA_VERSION == 2
    assert data["image"] == {"path": "a.jpg", "width": 200, "height": 100, "orientation": 0}
    assert data["text"] == "Hello world" == result.text
    assert data["lines"] == [
        {
            "polygon": line.polygon,
            "text": "Hello world",
            "words": [0, 1],
            "confidence": 0.8,  # mean of the written word confidences 0.9877 and 0.6123
            "block": 0,
        }
    ]
    assert data["words"][0] == {
        "polygon": [[10, 10], [50, 10], [50, 30], [10, 30]],
        "text": "Hello",
        "confidence": 0.9877,
        "detection_score": 0.9,
    }


def test_lines_join_with_newlines():
    a = Word(rect(0, 0, 1, 1), "a", 1.0)
    b = Word(rect(0, 5, 1, 1), "b", 1.0)
    result = OCRResult(
        [Block([], [Line(a.polygon, [a])]), Block([], [Line(b.polygon, [b])])], 10, 10
    )
    assert result.text == "a\nb"


def test_line_and_block_confidence_are_means_over_their_words():
    words = [Word(rect(0, 0, 1, 1), t, c) for t, c in [("a", 0.9), ("b", 0.5), ("c", 0.4)]]
    first, second = Line([], words[:2]), Line([], words[2:])
    block = Block([], [first, second])
    assert first.confidence == pytest.approx(0.7)
    assert block.confidence == pytest.approx(0.6)  # over words, not the mean of line means
    assert block.text == "a b\nc"
    assert Line([], []).confidence == 0.0 and Block([], []).confidence == 0.0


# ------------------------------------------------------------------ a page with blocks


def sign_words() -> list[Word]:
    """A notice as the detector finds it, in no particular order: a tall heading, a
    paragraph of three lines, and a footer far below."""
    return [
        Word(rect(10, 400, 120, 20), "Thank", 0.88123, 0.8),
        Word(rect(10, 80, 90, 20), "Monday", 0.97031, 0.95),
        Word(rect(10, 10, 170, 50), "Opening", 0.99512, 0.99),
        Word(rect(110, 80, 30, 20), "to", 0.91234, 0.9),
        Word(rect(150, 80, 80, 20), "Friday", 0.96),
        Word(rect(10, 110, 120, 20), "9:00-18:00", 0.77777, 0.85),
        Word(rect(190, 10, 120, 50), "hours", 0.9921, 0.97),
        Word(rect(10, 140, 100, 20), "Closed", 0.93333, 0.9),
        Word(rect(120, 140, 80, 20), "Sunday", 0.94444, 0.9),
        Word(rect(140, 400, 60, 20), "you", 0.85, 0.8),
    ]


def sign_page() -> OCRResult:
    words = sign_words()
    groups = group_into_lines([np.asarray(w.polygon) for w in words])
    models = {"detector": "default", "recognizer": "default"}
    return assemble_page(words, groups, 640, 480, "notice.jpg", models)


def test_json_has_blocks_with_line_indices_and_lines_with_their_block():
    data = sign_page().to_dict()
    assert [block["lines"] for block in data["blocks"]] == [[0], [1, 2, 3], [4]]
    assert [line["block"] for line in data["lines"]] == [0, 1, 1, 1, 2]
    assert [block["text"] for block in data["blocks"]] == [
        "Opening hours",
        "Monday to Friday\n9:00-18:00\nClosed Sunday",
        "Thank you",
    ]
    assert data["blocks"][0] == {
        "polygon": [[10.0, 10.0], [310.0, 10.0], [310.0, 60.0], [10.0, 60.0]],
        "text": "Opening hours",
        "confidence": 0.9936,  # mean of 0.9951 and 0.9921
        "lines": [0],
    }
    assert data["text"] == "\n".join(line["text"] for line in data["lines"])


def test_to_dict_from_dict_round_trip_keeps_everything():
    data = sign_page().to_dict()
    original = copy.deepcopy(data)
    result = OCRResult.from_dict(data)
    assert result.to_dict() == data
    assert data == original  # reading does not change its input
    assert OCRResult.from_json(json.dumps(data)).to_dict() == data
    assert result.text == sign_page().text
    # Lines hold the very Word objects of the result's word list, in its order.
    in_lines = [word for line in result.lines for word in line.words]
    assert all(a is b for a, b in zip(in_lines, result.words, strict=True))


# ------------------------------------------------------------------ older and newer files


# A result exactly as schema version 1 wrote it: no blocks, no line confidence.
VERSION_1 = {
    "schema": "ocr-pipeline/result",
    "schema_version": 1,
    "image": {"path": "sign.jpg", "width": 640, "height": 480},
    "models": {"detector": "default", "recognizer": "default"},
    "text": "OPEN\nDaily 9 to 5",
    "lines": [
        {
            "polygon": [[20.0, 30.0], [140.0, 30.0], [140.0, 70.0], [20.0, 70.0]],
            "text": "OPEN",
            "words": [0],
        },
        {
            "polygon": [[20.0, 90.0], [230.5, 90.0], [230.5, 115.0], [20.0, 115.0]],
            "text": "Daily 9 to 5",
            "words": [1, 2, 3, 4],
        },
    ],
    "words": [
        {
            "polygon": [[20.0, 30.0], [140.0, 30.0], [140.0, 70.0], [20.0, 70.0]],
            "text": "OPEN",
            "confidence": 0.9987,
            "detection_score": 0.97,
        },
        {
            "polygon": [[20.0, 90.0], [100.0, 90.0], [100.0, 115.0], [20.0, 115.0]],
            "text": "Daily",
            "confidence": 0.95,
            "detection_score": 0.9,
        },
        {
            "polygon": [[110.0, 90.0], [130.0, 90.0], [130.0, 115.0], [110.0, 115.0]],
            "text": "9",
            "confidence": 0.81,
            "detection_score": 0.88,
        },
        {
            "polygon": [[140.0, 90.0], [170.0, 90.0], [170.0, 115.0], [140.0, 115.0]],
            "text": "to",
            "confidence": 0.9,
            "detection_score": 0.9,
        },
        {
            "polygon": [[180.0, 90.0], [230.5, 90.0], [230.5, 115.0], [180.0, 115.0]],
            "text": "5",
            "confidence": 0.7,
            "detection_score": 0.85,
        },
    ],
}


def test_a_version_1_file_reads_as_one_block_of_all_its_lines():
    result = OCRResult.from_dict(copy.deepcopy(VERSION_1))
    assert len(result.blocks) == 1
    (block,) = result.blocks
    assert block.polygon == [[20.0, 30.0], [230.5, 30.0], [230.5, 115.0], [20.0, 115.0]]
    assert result.text == VERSION_1["text"]
    assert [line.text for line in block.lines] == ["OPEN", "Daily 9 to 5"]
    assert (result.path, result.width, result.height) == ("sign.jpg", 640, 480)
    assert result.lines[1].confidence == pytest.approx((0.95 + 0.81 + 0.9 + 0.7) / 4)

    # Written again it is a version-2 file whose version-1 keys say what they said.
    data = result.to_dict()
    assert data["schema_version"] == 2
    for key in ("schema", "models", "text", "words"):
        assert data[key] == VERSION_1[key]
    assert data["image"] == {**VERSION_1["image"], "orientation": 0}
    for new, old in zip(data["lines"], VERSION_1["lines"], strict=True):
        assert {key: new[key] for key in old} == old
        assert new["block"] == 0
    assert data["blocks"][0]["lines"] == [0, 1]


def test_a_version_1_file_without_lines_has_one_empty_block():
    empty = {**VERSION_1, "text": "", "lines": [], "words": []}
    result = OCRResult.from_dict(empty)
    assert [(block.polygon, block.lines) for block in result.blocks] == [([], [])]
    assert result.text == "" and result.words == []


def test_a_newer_schema_version_is_refused_by_name():
    newer = {**sign_page().to_dict(), "schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(ValueError, match=rf"schema_version {SCHEMA_VERSION + 1} .*newer"):
        OCRResult.from_dict(newer)


def test_something_else_than_a_result_is_refused():
    with pytest.raises(ValueError, match="not an OCR result"):
        OCRResult.from_dict({**VERSION_1, "schema": "something/else"})


def test_lines_that_skip_words_are_refused():
    broken = copy.deepcopy(VERSION_1)
    broken["lines"][1]["words"] = [1, 3, 4]
    with pytest.raises(ValueError, match="words"):
        OCRResult.from_dict(broken)


# ------------------------------------------------------------------ assembling a page


def test_assemble_page_orders_lines_and_words_as_the_groups_say():
    words = [
        Word(rect(60, 10, 40, 20), "world", 0.9),
        Word(rect(10, 40, 40, 20), "again", 0.8),
        Word(rect(10, 10, 40, 20), "hello", 0.7),
    ]
    result = assemble_page(words, [[2, 0], [1]], 200, 100, None, {})
    assert [w.text for w in result.words] == ["hello", "world", "again"]
    assert [line.text for line in result.lines] == ["hello world", "again"]
    assert result.text == "hello world\nagain"
    assert result.lines[0].polygon == rect(10, 10, 90, 20)
    assert result.words[0] == words[2]  # inside the image: unchanged
    assert [len(block.lines) for block in result.blocks] == [2]  # one paragraph


def test_assembled_polygons_stay_inside_the_image():
    # A detector's region grown past the top-left corner, and a tilted word whose rotated
    # rectangle sticks out of the right edge.
    words = [
        Word([[-12, -5], [60, -5], [60, 20], [-12, 20]], "edge", 0.9),
        Word([[150, 40], [205, 30], [208, 48], [153, 58]], "tilt", 0.8),
    ]
    result = assemble_page(words, [[0], [1]], 200, 100, None, {})
    polygons = [w.polygon for w in result.words] + [line.polygon for line in result.lines]
    polygons += [block.polygon for block in result.blocks]
    for polygon in polygons:
        for x, y in polygon:
            assert 0 <= x <= 200 and 0 <= y <= 100
    assert result.words[0].polygon == [[0, 0], [60, 0], [60, 20], [0, 20]]
    assert len(result.words[1].polygon) == 4 and result.words[1].text == "tilt"


def test_assemble_page_without_words_is_an_empty_page():
    result = assemble_page([], [], 200, 100, "blank.jpg", {"detector": "x"})
    assert result.blocks == [] and result.text == ""
    assert result.to_dict()["blocks"] == [] and result.to_dict()["lines"] == []
