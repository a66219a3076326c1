"""The JSON form of a result follows the documented, versioned schema."""

import json

from pipeline.result import SCHEMA_VERSION, Line, OCRResult, Word


def test_json_has_versioned_schema_polygons_and_reading_order():
    hello = Word([[10, 10], [50, 10], [50, 30], [10, 30]], "Hello", 0.987654, 0.9)
    world = Word([[60, 10], [100, 10], [100, 30], [60, 30]], "world", 0.5)
    line = Line([[10, 10], [100, 10], [100, 30], [10, 30]], [hello, world], [0, 1])
    result = OCRResult(
        [hello, world],
        [line],
        width=200,
        height=100,
        path="a.jpg",
        models={"detector": "default", "recognizer": "default"},
    )
    data = json.loads(result.to_json())
    assert data["schema"] == "ocr-pipeline/result" and data["schema_version"] == SCHEMA_VERSION
    assert data["image"] == {"path": "a.jpg", "width": 200, "height": 100}
    assert data["text"] == "Hello world" == result.text
    assert data["lines"] == [{"polygon": line.polygon, "text": "Hello world", "words": [0, 1]}]
    assert data["words"][0] == {
        "polygon": [[10, 10], [50, 10], [50, 30], [10, 30]],
        "text": "Hello",
        "confidence": 0.9877,
        "detection_score": 0.9,
    }


def test_lines_join_with_newlines():
    a = Word([[0, 0], [1, 0], [1, 1], [0, 1]], "a", 1.0)
    b = Word([[0, 5], [1, 5], [1, 6], [0, 6]], "b", 1.0)
    result = OCRResult([a, b], [Line(a.polygon, [a], [0]), Line(b.polygon, [b], [1])], 10, 10)
    assert result.text == "a\nb"
