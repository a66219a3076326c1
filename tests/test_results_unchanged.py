"""What the default pipeline reads on the demo photos stays what it was.

``tests/data/results_v1/`` holds the results the pipeline wrote for the demo photos before
its restructuring (schema version 1). The same photos must still give the same words, word
polygons, lines and text; a change that means to alter them updates these files on purpose.
Changes since, applied here: polygons are clamped to the image (to the record), and words
under the confidence cut-off are kept and crops decoded as the official code decodes a
batch (to the pipeline), as they were when the record was made; on a tilted page (text
direction 3 degrees or more off level) the lines are now grouped along the text, so only its
words are compared.
(For the 100 ICDAR 2015 dev photos: ``benchmarks/compare_results.py`` on two output folders.)
The records were written again (schema version 2) when curved regions became curved
polygons: the arc of ``curved_sign.jpg`` is now one band that follows it instead of a
quadrilateral across it; the other photos' words and polygons stayed as they were (one
confidence moved by 0.0001, the batches of the official decoding having changed).
They were written again when lines came to be cut into words at the spaces of a line reader
(``pipeline/ctc_splitting.py``) and the default recognizer came to stand on a pre-trained
encoder: both change words, polygons and texts on every photo. ``mall_sign.jpg``'s record was
written again when the line reader's half-read spaces came to be cut too (``space_above``):
one of its lines now holds one more word. ``blue_plaque.jpg``'s record was written again when
the text-line encoder came to run channels-last (the same convolutions, summed in another
order): two confidences moved by 0.0001. All four were written again when a word's text
came to be the line reader's where it is surer than the recognizer's (``line_reader_margin``):
texts and confidences change ("Voted 7 the cople" reads "Voted by the People", words keep
their punctuation), polygons do not; and again when the words the line reader is sure of
stopped being read again (``line_reader_trust``): some confidences are now the line reader's;
and again when the default recognizer's encoder was fine-tuned (crops fitted keeping their
aspect ratio): texts and confidences change, polygons do not.
"""

import numpy as np
import pytest
from conftest import REPO

from pipeline import OCRPipeline
from pipeline.layout import clamp_to_image, text_direction
from pipeline.result import OCRResult

RECORDED = REPO / "tests" / "data" / "results_v1"


@pytest.mark.slow
def test_the_demo_photos_read_as_recorded_before_the_restructuring():
    recorded = sorted(RECORDED.glob("*.json"))
    assert len(recorded) == 4
    pipeline = OCRPipeline(min_confidence=0)  # recorded before the default cut-off
    pipeline.recognizer.batch_independent = False  # and with the official batch decoding
    photos = [REPO / "demo" / path.name.removesuffix(".json") for path in recorded]
    for path, result in zip(recorded, pipeline.ocr_batch(photos)):
        before = OCRResult.from_json(path.read_text(encoding="utf-8"))
        now = OCRResult.from_dict(result.to_dict())  # as written: rounded like the record
        size = (before.width, before.height)
        assert sorted(_words(now)) == sorted(_words(before, size)), path.name
        if abs(text_direction([np.asarray(w.polygon) for w in before.words])) >= 3.0:
            continue  # a tilted page: its lines are now grouped along its text direction
        assert _words(now) == _words(before, size), path.name
        assert [line.text for line in now.lines] == [line.text for line in before.lines]
        for line_now, line_before in zip(now.lines, before.lines):
            if clamp_to_image(line_before.polygon, *size) == line_before.polygon:
                assert line_now.polygon == line_before.polygon, path.name
        assert now.text == before.text


def _words(result: OCRResult, size: tuple[int, int] | None = None) -> list[tuple]:
    def polygon(word):
        return clamp_to_image(word.polygon, *size) if size else word.polygon

    return [(w.text, polygon(w), w.confidence, w.detection_score) for w in result.words]
