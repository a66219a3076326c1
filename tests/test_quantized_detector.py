"""The 8-bit detection model of ``--detector default-int8``
(``pipeline.openmmlab.quantize_detector``).

It must find what the float model finds on real photos, be made again by the module from
the installed float model, and fail clearly where a file is missing or unreadable.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.openmmlab.compat import apply_openmmlab_workarounds

apply_openmmlab_workarounds()

from pipeline.evaluation import match_detections  # noqa: E402
from pipeline.openmmlab import ppocr_detector  # noqa: E402
from pipeline.openmmlab.ppocr_detector import QUANTIZED_MODEL  # noqa: E402
from pipeline.openmmlab.quantize_detector import (  # noqa: E402
    crop_mosaics,
    detector_input,
    main,
    quantize_detector,
    sha256,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEV = SHARED / "data" / "icdar2015_dev_scenes"


def probability_map(model_file: Path, image_bgr: np.ndarray) -> np.ndarray:
    session = ppocr_detector._onnx_session(model_file, 2)
    feed = {session.get_inputs()[0].name: detector_input(image_bgr)}
    return session.run(None, feed)[0][0, 0]


def agreement(a: np.ndarray, b: np.ndarray, threshold: float = 0.3) -> float:
    """Intersection over union of the text pixels (probability above the threshold)."""
    a, b = a > threshold, b > threshold
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_shipped_model_records_what_it_was_made_from():
    record = json.loads(QUANTIZED_MODEL.with_suffix(".json").read_text())
    float_model = ppocr_detector.find_ppocr_det_model()

    assert record["sha256"] == sha256(QUANTIZED_MODEL)
    assert record["source"] == float_model.name
    assert record["source_sha256"] == sha256(float_model)  # the rapidocr wheel's model
    assert record["calibration_photos"] == sorted(p.name for p in (REPO / "demo").glob("*.jpg"))


@pytest.mark.slow
@pytest.mark.parametrize("photo", ["img_2.jpg", "img_57.jpg", "img_91.jpg"])
def test_the_8_bit_model_finds_the_text_the_float_model_finds(photo):
    image = cv2.imread(str(DEV / "images" / photo))
    exact = probability_map(ppocr_detector.find_ppocr_det_model(), image)
    quantized = probability_map(QUANTIZED_MODEL, image)

    assert quantized.shape == exact.shape
    assert np.abs(quantized - exact).mean() < 0.005
    assert agreement(quantized, exact) > 0.75  # 0.80-0.97 on these photos


@pytest.mark.slow
def test_the_int8_detector_boxes_the_words_the_default_detector_boxes():
    from pipeline.openmmlab.detector import MMOCRDetector

    record = json.loads((DEV / "scenes.jsonl").read_text().splitlines()[1])  # img_2
    image = cv2.cvtColor(cv2.imread(str(DEV / record["file"])), cv2.COLOR_BGR2RGB)
    boxes = {
        name: [d.polygon for d in MMOCRDetector(name).detect([image])[0]]
        for name in ("default-int8", "default")
    }
    # Box for box, the 8-bit detector's words are the float detector's.
    pairs = match_detections(boxes["default-int8"], boxes["default"]).pairs
    assert len(pairs) >= 0.9 * max(len(boxes["default-int8"]), len(boxes["default"])) > 5


def standing_line() -> np.ndarray:
    """A photo of one line of text, turned to read upwards (RGB, 45 x 600 pixels)."""
    from PIL import Image, ImageDraw, ImageFont

    line = Image.new("RGB", (600, 45), "white")
    font = ImageFont.truetype("DejaVuSans.ttf", 32)
    ImageDraw.Draw(line).text((10, 4), "Welcome to the garden", font=font, fill="black")
    return np.asarray(line.rotate(90, expand=True))


def regions(detector, image: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(d.polygon) for d in detector.detect([image])[0]]


@pytest.mark.slow
def test_a_standing_line_the_8_bit_model_breaks_is_detected_again_in_float():
    from pipeline.openmmlab.detector import MMOCRDetector

    image = standing_line()
    float_regions = regions(MMOCRDetector("default"), image)
    plain = MMOCRDetector("default-int8")
    plain._inferencer.model.recheck_standing = False
    rechecking = MMOCRDetector("default-int8")
    model = rechecking._inferencer.model

    assert len(float_regions) == 4  # the float model finds the line and its 4 words,
    assert len(regions(plain, image)) > 6  # the 8-bit one pieces of it (15 today),
    again = regions(rechecking, image)  # which stand: the photo is detected again.
    assert model.rechecked == 1
    assert len(again) == 4 and all(np.allclose(a, b) for a, b in zip(again, float_regions))
    # A photo whose text lies level is not detected twice.
    level = np.ascontiguousarray(np.rot90(image, -1))
    assert len(regions(rechecking, level)) == 4 and model.rechecked == 1
    # In a batch, only the standing photo is detected again, as it was alone.
    batch = rechecking.detect([level, image])
    assert model.rechecked == 2
    assert [len(found) for found in batch] == [4, 4]
    assert all(np.allclose(d.polygon, b) for d, b in zip(batch[1], float_regions))


def test_only_the_shipped_8_bit_model_is_rechecked_in_float():
    from mmengine.config import Config
    from mmocr.registry import MODELS

    from pipeline.openmmlab.detector import detector_config_path

    model = Config.fromfile(str(detector_config_path("default"))).model
    with pytest.raises(ValueError, match="recheck_standing.*quantized=True"):
        MODELS.build({**model, "recheck_standing": True})
    with pytest.raises(ValueError, match="no model_file"):
        MODELS.build({**model, "quantized": True, "recheck_standing": True, "model_file": "x.onnx"})


@pytest.mark.slow
def test_quantizing_the_installed_float_model_gives_a_working_8_bit_model(tmp_path):
    out = tmp_path / "det_int8.onnx"
    photos = sorted((REPO / "demo").glob("*.jpg"))[:2]
    quantize_detector(ppocr_detector.find_ppocr_det_model(), out, photos)

    image = cv2.imread(str(DEV / "images" / "img_2.jpg"))
    exact = probability_map(ppocr_detector.find_ppocr_det_model(), image)
    assert out.stat().st_size < 0.4 * ppocr_detector.find_ppocr_det_model().stat().st_size
    assert agreement(probability_map(out, image), exact) > 0.7


def test_crop_mosaics_are_detector_inputs_of_a_photo_size():
    mosaics = crop_mosaics(SHARED / "data" / "real_train", count=2, per_mosaic=5)

    assert [m.shape for m in mosaics] == [(1, 3, 736, 1312)] * 2
    assert all(m.dtype == np.float32 and -1 <= m.min() < m.max() <= 1 for m in mosaics)
    # The same seed, the same mosaics: the shipped model can be made again.
    again = crop_mosaics(SHARED / "data" / "real_train", count=2, per_mosaic=5)
    assert all(np.array_equal(a, b) for a, b in zip(mosaics, again))


def test_bad_calibration_input_is_named(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out.onnx"

    assert main(["--photos", str(tmp_path / "photos"), "--out", str(out)]) == 2
    assert "broken.jpg" in capsys.readouterr().err
    assert main(["--photos", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "nowhere: not a folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="labels.tsv"):
        crop_mosaics(tmp_path)
    assert not out.exists()


def test_a_missing_8_bit_model_says_how_to_get_it_back(monkeypatch, tmp_path):
    monkeypatch.setattr(ppocr_detector, "QUANTIZED_MODEL", tmp_path / "gone.onnx")
    with pytest.raises(FileNotFoundError, match="gone.onnx.*reinstall.*--detector default"):
        ppocr_detector.find_quantized_det_model()
