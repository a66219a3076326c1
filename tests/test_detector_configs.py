"""The detector configs in detector_configs/, used the way an MMOCR user uses them.

The default detector runs PP-OCR's DB model from the installed ``rapidocr`` package (no
download) on a real ICDAR 2015 photo; the model-zoo configs are checked against MMOCR's own
configs and metafiles without fetching their weights.
"""

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from pipeline.openmmlab.compat import (
    MissingCompiledOpError,
    apply_openmmlab_workarounds,
    compiled_mmcv_ops_available,
)

apply_openmmlab_workarounds()

from mmengine.config import Config  # noqa: E402

from pipeline.evaluation import match_detections  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCENES = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes"
CONFIGS = REPO / "detector_configs"
DEFAULT = CONFIGS / "default.py"

MODEL_ZOO = {
    # our config: (MMOCR config it inherits, model name in MMOCR's metafile)
    "dbnet_resnet18_fpnc_icdar2015.py": (
        "textdet/dbnet/dbnet_resnet18_fpnc_1200e_icdar2015.py",
        "dbnet_resnet18_fpnc_1200e_icdar2015",
    ),
    "dbnetpp_resnet50-dcnv2_icdar2015.py": (
        "textdet/dbnetpp/dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015.py",
        "dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015",
    ),
}


def mmocr_configs() -> Path:
    import mmocr

    return Path(mmocr.__file__).parent / ".mim" / "configs"


def scene(file: str) -> dict:
    for line in (SCENES / "scenes.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["file"] == file:
            return record
    raise LookupError(file)


def build_model(config: Config):
    """The model of a config, built as MMOCR's tools do (in the config's default scope)."""
    from mmengine.registry import DefaultScope
    from mmocr.registry import MODELS

    with DefaultScope.overwrite_default_scope(config.default_scope):
        return MODELS.build(config.model)


def inferencer(config: Path):
    from mmocr.apis import MMOCRInferencer

    with warnings.catch_warnings():
        # mmengine warns that no checkpoint was loaded: the default detector's weights are
        # inside its ONNX graph, and the DCN test needs none.
        warnings.simplefilter("ignore", UserWarning)
        return MMOCRInferencer(det=str(config), device="cpu")


@pytest.fixture(scope="module")
def default_detector():
    return inferencer(DEFAULT)


def test_default_config_builds_pp_ocr_detector_with_mmocr_postprocessing():
    from mmocr.models.textdet.postprocessors import DBPostprocessor

    config = Config.fromfile(str(DEFAULT))
    model = build_model(config)

    assert type(model).__name__ == "PPOCRDBDetector"
    assert isinstance(model.postprocessor, DBPostprocessor)
    # The ONNX model is found inside the installed rapidocr package, not in this repo.
    rapidocr = Path(next(iter(importlib.util.find_spec("rapidocr").submodule_search_locations)))
    assert model.model_file.is_file() and rapidocr in model.model_file.parents
    assert config.get("load_from") is None  # nothing to download


def test_default_int8_runs_the_8_bit_copy_shipped_in_the_package():
    from pipeline.openmmlab.detector import detector_config_path

    config = Config.fromfile(str(detector_config_path("default-int8")))
    model = build_model(config)

    assert model.model_file == REPO / "pipeline/openmmlab/weights/PP-OCRv6_det_small_int8.onnx"
    assert model.model_file.is_file()
    assert model.recheck_standing  # standing regions are detected again in float
    # Everything else is the default's.
    default = Config.fromfile(str(DEFAULT)).model
    assert config.model.postprocessor == default.postprocessor
    assert config.model.word_splitter == default.word_splitter


@pytest.mark.slow
def test_default_detector_returns_word_polygons_on_a_real_photo(default_detector):
    record = scene("images/img_2.jpg")
    result = default_detector(str(SCENES / record["file"]), out_dir="")
    prediction = result["predictions"][0]
    polygons, scores = prediction["det_polygons"], prediction["det_scores"]

    assert len(polygons) == len(scores) > 0
    assert all(len(p) >= 8 and len(p) % 2 == 0 for p in polygons)
    assert all(0.0 <= s <= 1.0 for s in scores)
    words = record["instances"]
    match = match_detections(polygons, [w["polygon"] for w in words], [w["ignore"] for w in words])
    found = {words[g]["text"] for _, g, _ in match.pairs}
    assert match.score.true_positives >= 7, found
    # "Free yourself from" is one text line: word-level output finds its words one by one.
    assert {"Free", "yourself", "from"} <= found


@pytest.mark.slow
def test_default_detector_takes_bgr_arrays_like_files(default_detector):
    import cv2

    path = SCENES / "images" / "img_3.jpg"
    from_file = default_detector(str(path), out_dir="")["predictions"][0]["det_polygons"]
    from_array = default_detector(cv2.imread(str(path)), out_dir="")["predictions"][0]
    np.testing.assert_allclose(from_array["det_polygons"], from_file)


@pytest.mark.slow
def test_default_detector_finds_the_same_words_alone_and_in_a_batch(default_detector):
    """Images of different sizes are padded to one batch; that must not change the result."""
    import cv2

    paths = [REPO / "demo" / "mall_sign.jpg", SCENES / "images" / "img_3.jpg"]
    images = [cv2.imread(str(p)) for p in paths]
    alone = [default_detector(image, out_dir="")["predictions"][0] for image in images]
    together = default_detector(images, batch_size=2, out_dir="")["predictions"]
    for single, batched in zip(alone, together):
        assert len(single["det_polygons"]) == len(batched["det_polygons"]) > 0
        np.testing.assert_allclose(batched["det_polygons"], single["det_polygons"])


def test_default_config_can_be_inherited_by_an_mmocr_config(tmp_path):
    child = tmp_path / "lines.py"
    child.write_text(f"_base_ = [{str(DEFAULT)!r}]\nmodel = dict(word_splitter=None)\n")
    config = Config.fromfile(str(child))

    assert config.custom_imports.imports == [
        "pipeline.openmmlab.ppocr_detector",
        "pipeline.openmmlab.band_postprocessor",
    ]
    model = build_model(config)
    assert model.word_splitter is None  # the raw line boxes of PP-OCR's model


def test_input_size_follows_pp_ocr_preprocessing():
    from pipeline.openmmlab.ppocr_detector import ppocr_input_size

    # Short side raised to 736, sides rounded to multiples of 32 (ICDAR 2015's 1280x720).
    assert ppocr_input_size(720, 1280) == (736, 1312)
    # Big photos: long side down to 2000 first; a short side above 736 stays as it is.
    assert ppocr_input_size(3000, 4000) == (1504, 1984)
    assert ppocr_input_size(10, 10) == (736, 736)
    # A strip is enlarged only until its long side reaches 2000: a photo of one text line
    # gets a readable height, and 1x5000 pixels no longer asks for gigabytes.
    assert ppocr_input_size(45, 600) == (160, 1984)
    assert ppocr_input_size(1, 5000) == (32, 1984)
    assert ppocr_input_size(5000, 1) == (1984, 32)


def test_missing_rapidocr_names_what_to_install(monkeypatch):
    from pipeline.openmmlab import ppocr_detector as mmocr_detector

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "rapidocr" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'rapidocr.*' onnxruntime"):
        mmocr_detector.find_ppocr_det_model()


@pytest.mark.parametrize("ours", sorted(MODEL_ZOO))
def test_model_zoo_configs_inherit_mmocr_and_load_its_published_weights(ours):
    import yaml

    mmocr_config, model_name = MODEL_ZOO[ours]
    config = Config.fromfile(str(CONFIGS / ours))
    upstream = Config.fromfile(str(mmocr_configs() / mmocr_config))

    # mmengine tags what a config takes from another package with that package's scope.
    assert config.model.pop("_scope_") == "mmocr"
    # MMOCR's model, but for the DB post-processing, which keeps curved regions curved.
    ours_post = config.model.det_head.pop("postprocessor")
    upstream_post = upstream.model.det_head.pop("postprocessor")
    assert config.model.to_dict() == upstream.model.to_dict()
    assert upstream_post.pop("type") == "DBPostprocessor"
    assert ours_post.pop("type") == "DBBandPostprocessor"
    assert ours_post.to_dict() == upstream_post.to_dict()  # the same thresholds
    assert config.test_dataloader.dataset.pipeline == upstream.test_dataloader.dataset.pipeline
    metafile = mmocr_configs() / Path(mmocr_config).parent / "metafile.yml"
    models = yaml.safe_load(metafile.read_text())["Models"]
    (published,) = [m["Weights"] for m in models if m["Name"] == model_name]
    assert config.load_from == published
    assert published.startswith("https://download.openmmlab.com/mmocr/textdet/")


@pytest.mark.slow
@pytest.mark.skipif(compiled_mmcv_ops_available(), reason="full mmcv with compiled ops installed")
def test_dcn_config_fails_with_what_to_install_when_compiled_ops_are_missing():
    detector = inferencer(CONFIGS / "dbnetpp_resnet50-dcnv2_icdar2015.py")
    photo = np.full((64, 64, 3), 127, np.uint8)  # resized to 1024x1024 by the config

    with pytest.raises(MissingCompiledOpError) as failure:
        detector(photo, out_dir="")

    message = str(failure.value)
    assert "modulated_deform_conv" in message  # which op
    assert "mmcv-lite" in message and "pip install mmcv==2.0.1" in message  # what to do
