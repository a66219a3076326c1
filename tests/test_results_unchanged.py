"""What the default pipeline reads on the demo photos stays what it was.

``tests/data/results_v1/`` holds the results the pipeline wrote for the demo photos before
its restructuring (schema version 1). The same photos must still give the same words, word
polygons, lines and text; a change that means to alter them updates these files on purpose.
(For the 100 ICDAR 2015 dev photos: ``benchmarks/compare_results.py`` on two output folders.)
"""

import pytest
from conftest import REPO

from pipeline import OCRPipeline
from pipeline.result import OCRResult

RECORDED = REPO / "tests" / "data" / "results_v1"


@pytest.mark.slow
def test_the_demo_photos_read_as_recorded_before_the_restructuring():
    recorded = sorted(RECORDED.glob("*.json"))
    assert len(recorded) == 4
    pipeline = OCRPipeline()
    photos = [REPO / "demo" / path.name.removesuffix(".json") for path in recorded]
    for path, result in zip(recorded, pipeline.ocr_batch(photos)):
        before = OCRResult.from_json(path.read_text(encoding="utf-8"))
        now = OCRResult.from_dict(result.to_dict())  # as written: rounded like the record
        assert _words(now) == _words(before), path.name
        assert [(line.text, line.polygon) for line in now.lines] == [
            (line.text, line.polygon) for line in before.lines
        ], path.name
        assert now.text == before.text


def _words(result: OCRResult) -> list[tuple]:
    return [(w.text, w.polygon, w.confidence, w.detection_score) for w in result.words]
