"""OCRPipeline's own logic with stand-in models: batching, orientation choice, assembly.

The stand-ins make the expected answer known exactly; the real models are exercised in
test_pipeline_cli.py, test_end_to_end.py and test_default_models.py.
"""

import numpy as np
import pytest

from pipeline import OCRPipeline
from pipeline.stages import Detection
from recognizer import Reading
from recognizer.images import ImageError

# The stand-ins read with made-up confidences and count recognizer calls: keep every word,
# and leave out page orientation (its check reads crops too).
STAND_IN = dict(min_confidence=0, orient_pages=False)


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


class ListDetector:
    """Returns the given detections for each image, by its width."""

    def __init__(self, by_width: dict[int, list[Detection]]):
        self.by_width = by_width
        self.calls: list[int] = []

    def detect(self, images):
        self.calls.append(len(images))
        return [list(self.by_width[image.shape[1]]) for image in images]


class BrightnessReader:
    """Reads a crop as 'word<mean brightness>'; confident only if the bright mark is on top."""

    def __init__(self):
        self.batches: list[int] = []

    def read(self, crops, batch_size=64):
        self.batches.append(len(crops))
        readings = []
        for crop in crops:
            crop = np.asarray(crop)
            value = int(round(float(crop.mean())))
            top_is_bright = crop[: crop.shape[0] // 2].mean() > crop[crop.shape[0] // 2 :].mean()
            confidence = 0.9 if top_is_bright and crop.shape[1] > crop.shape[0] else 0.1
            readings.append(Reading(f"word{value}", confidence, [confidence]))
        return readings


def test_crops_of_all_images_are_read_in_one_recognizer_call():
    first = np.full((100, 200, 3), 50, np.uint8)
    second = np.full((100, 300, 3), 120, np.uint8)
    detector = ListDetector(
        {
            200: [Detection(box(10, 10, 90, 40), 0.9), Detection(box(100, 60, 190, 90), 0.8)],
            300: [Detection(box(20, 20, 120, 50), 0.7)],
        }
    )
    reader = BrightnessReader()
    results = OCRPipeline(detector, reader, **STAND_IN).ocr_batch([first, second])
    assert detector.calls == [2] and reader.batches == [3]
    assert [w.text for w in results[0].words] == ["word50", "word50"]
    assert [w.text for w in results[1].words] == ["word120"]
    assert results[0].words[0].polygon == box(10, 10, 90, 40).tolist()
    assert results[1].words[0].detection_score == pytest.approx(0.7)
    assert (results[1].width, results[1].height) == (300, 100)
    assert results[0].models == {"detector": "ListDetector", "recognizer": "BrightnessReader"}


def test_a_tall_word_is_read_in_the_orientation_the_recognizer_trusts_most():
    image = np.zeros((200, 200, 3), np.uint8)
    # A tall region whose bright half is on the right: turned 90 degrees counter-clockwise,
    # the bright half comes on top, which is the only reading the stand-in is sure of.
    image[20:180, 100:120] = 200
    reader = BrightnessReader()
    detector = ListDetector({200: [Detection(box(80, 20, 120, 180), 0.9)]})
    result = OCRPipeline(detector, reader, **STAND_IN).ocr(image)
    assert reader.batches == [3]  # as is, and turned both ways
    assert len(result.words) == 1
    assert result.words[0].confidence == pytest.approx(0.9)


def test_empty_readings_are_dropped_and_lines_follow_reading_order():
    class Reader:
        def read(self, crops, batch_size=64):
            texts = ["", "second", "first"]  # in detection order
            return [Reading(t, 0.8, [0.8] * len(t)) for t in texts[: len(crops)]]

    detections = [
        Detection(box(10, 10, 60, 30), 0.9),  # read as nothing
        Detection(box(120, 50, 190, 70), 0.9),
        Detection(box(10, 50, 100, 70), 0.9),
    ]
    result = OCRPipeline(ListDetector({200: detections}), Reader()).ocr(
        np.zeros((100, 200, 3), np.uint8)
    )
    assert [w.text for w in result.words] == ["first", "second"]
    assert [line.text for line in result.lines] == ["first second"]
    assert result.text == "first second"


def test_a_bad_image_among_good_ones_is_reported_and_the_rest_is_read(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    good = np.zeros((100, 200, 3), np.uint8)
    pipeline = OCRPipeline(
        ListDetector({200: [Detection(box(10, 10, 90, 40), 0.9)]}), BrightnessReader(), **STAND_IN
    )
    outcomes = list(pipeline.ocr_many([good, bad, good], images_per_batch=3))
    assert [type(o).__name__ for _, o in outcomes] == ["OCRResult", "NotAnImageError", "OCRResult"]
    assert isinstance(outcomes[1][1], ImageError)
    assert "broken.jpg" in str(outcomes[1][1])
    with pytest.raises(ImageError, match="broken.jpg"):
        pipeline.ocr_batch([good, bad])


def test_words_below_the_confidence_threshold_are_left_out():
    detections = [Detection(box(10, 10, 90, 40), 0.9), Detection(box(100, 10, 190, 40), 0.9)]
    image = np.zeros((100, 200, 3), np.uint8)
    image[10:25, 100:190] = 255  # the second word's top half is bright: read confidently

    def run(threshold):
        pipeline = OCRPipeline(
            ListDetector({200: detections}), BrightnessReader(), min_confidence=threshold
        )
        return [round(w.confidence, 1) for w in pipeline.ocr(image).words]

    assert run(0.0) == [0.1, 0.9]
    assert run(0.5) == [0.9]
    default = OCRPipeline(ListDetector({200: detections}), BrightnessReader(), orient_pages=False)
    assert default.min_confidence == 0.4
    assert [round(w.confidence, 1) for w in default.ocr(image).words] == [0.9]


def _images_and_detector(count: int):
    images = [np.full((50, 100 + i, 3), 10 * i, np.uint8) for i in range(count)]
    detector = ListDetector({100 + i: [Detection(box(5, 5, 60, 30), 0.9)] for i in range(count)})
    return images, detector


def test_overlapped_and_sequential_runs_give_the_same_results_in_input_order():
    images, detector = _images_and_detector(7)
    inputs = images[:3] + ["/no/such/photo.jpg"] + images[3:]
    pipeline = OCRPipeline(detector, BrightnessReader(), **STAND_IN)
    outcomes = {}
    for overlap in (True, False):
        pairs = list(pipeline.ocr_many(inputs, images_per_batch=2, overlap=overlap))
        assert [item is original for (item, _), original in zip(pairs, inputs)] == [True] * 8
        outcomes[overlap] = [
            type(o).__name__ if isinstance(o, ImageError) else o.text for _, o in pairs
        ]
    assert outcomes[True] == outcomes[False]
    assert outcomes[True][3] == "ImageError"
    assert outcomes[True][0] == "word0" and outcomes[True][7] == "word60"


class FailingDetector:
    def detect(self, images):
        raise RuntimeError("detector exploded")


def test_an_unexpected_detector_error_reaches_the_caller_of_an_overlapped_run():
    images, _ = _images_and_detector(3)
    pipeline = OCRPipeline(FailingDetector(), BrightnessReader(), **STAND_IN)
    with pytest.raises(RuntimeError, match="detector exploded"):
        list(pipeline.ocr_many(images, images_per_batch=1))


def test_leaving_an_overlapped_run_early_stops_its_detection_thread():
    import threading

    images, detector = _images_and_detector(20)
    pipeline = OCRPipeline(detector, BrightnessReader(), **STAND_IN)
    run = pipeline.ocr_many(iter(images), images_per_batch=1)
    next(run)
    run.close()
    assert not any(t.name == "ocr-detect" for t in threading.enumerate())
    # The detector ran ahead by at most two chunks: memory is bounded.
    assert len(detector.calls) <= 3


def test_the_line_readers_text_is_taken_where_it_is_surer_and_the_recognizer_decides_what_stays():
    # The stand-in reads both crops "word0" with confidence 0.1 (dark); the detection stage
    # read the first word "OPEN" at 0.95, the second "LATE" at 0.05, the third not at all.
    detections = [
        Detection(box(10, 10, 60, 40), 0.9, Reading("OPEN", 0.95, [0.99, 0.98, 0.99, 0.99])),
        Detection(box(70, 10, 120, 40), 0.9, Reading("LATE", 0.05, [0.5, 0.3, 0.6, 0.6])),
        Detection(box(130, 10, 190, 40), 0.9),
    ]
    image = np.zeros((100, 200, 3), np.uint8)

    def texts(**settings):
        pipeline = OCRPipeline(ListDetector({200: detections}), BrightnessReader(), **settings)
        return [(w.text, round(w.confidence, 2)) for w in pipeline.ocr(image).words]

    chosen = [("OPEN", 0.95), ("word0", 0.1), ("word0", 0.1)]
    assert texts(**STAND_IN) == chosen  # the default margin: 0
    assert texts(**STAND_IN, line_reader_margin=0.8) == chosen
    assert texts(**STAND_IN, line_reader_margin=0.9) == [("word0", 0.1)] * 3
    assert texts(**STAND_IN, line_reader_margin=None) == [("word0", 0.1)] * 3
    # The recognizer's 0.1 is under the cut-off: no word is kept, however sure the line
    # reader is of the first (it reads text into blank regions as readily).
    assert texts(min_confidence=0.4, orient_pages=False) == []


def test_a_word_the_line_reader_is_sure_of_is_not_read_again():
    sure = [0.999] * 4
    detections = [
        Detection(box(10, 10, 60, 40), 0.9, Reading("OPEN", 0.996, sure)),
        Detection(box(70, 10, 120, 40), 0.9, Reading("AT", 0.999, sure[:2])),  # too short
        Detection(box(130, 10, 190, 40), 0.9, Reading("LATE", 0.9, [0.97] * 4)),  # unsure
    ]
    image = np.zeros((100, 200, 3), np.uint8)

    def run(**settings):
        reader = BrightnessReader()
        pipeline = OCRPipeline(ListDetector({200: detections}), reader, **STAND_IN, **settings)
        words = [(w.text, round(w.confidence, 3)) for w in pipeline.ocr(image).words]
        return reader.batches, words

    # By default (0.98) "OPEN" stands as read; the other two are read by the recognizer,
    # whose 0.1 then loses to the surer line reader.
    read_again = [("OPEN", 0.996), ("AT", 0.999), ("LATE", 0.9)]
    assert run() == ([2], read_again)
    assert run(line_reader_trust=None) == ([3], read_again)
    assert run(line_reader_trust=0.9) == ([1], read_again)  # "LATE" stands too
    # Without the margin rule, a word read again keeps the recognizer's text.
    assert run(line_reader_margin=None)[1] == [("OPEN", 0.996), ("word0", 0.1), ("word0", 0.1)]


def test_the_command_line_sets_the_margin_or_turns_the_line_readers_text_off():
    from pipeline.cli import build_parser, spec_from_args

    def margin(*options):
        return spec_from_args(build_parser().parse_args(["run", "x.jpg", *options]))

    assert margin().line_reader_margin == 0.0
    assert margin("--line-reader-margin", "0.25").line_reader_margin == 0.25
    assert margin("--line-reader-margin", "off").line_reader_margin is None
    assert margin().line_reader_trust == 0.98
    assert margin("--line-reader-trust", "off").line_reader_trust is None
