"""Detector and recognizer together: through MMOCR, through the pipeline, and scored."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import DATA, REPO

from pipeline.evaluation import end_to_end_match

SCENES = DATA / "icdar2015_dev_scenes"
SQUARE = [0, 0, 10, 0, 10, 10, 0, 10]
FAR = [50, 50, 60, 50, 60, 60, 50, 60]


def test_end_to_end_needs_the_right_place_and_the_right_text():
    score = end_to_end_match([SQUARE, FAR], ["Hello!", "x"], [SQUARE, FAR], ["hello", "y"])
    assert (score.true_positives, score.num_detections, score.num_ground_truth) == (1, 2, 2)


def test_words_without_alphanumerics_and_dont_care_regions_are_not_counted():
    score = end_to_end_match(
        [SQUARE, FAR], ["a", "b"], [SQUARE, FAR], ["-", "###"], ignore=[False, True]
    )
    assert (score.true_positives, score.num_detections, score.num_ground_truth) == (0, 0, 0)


@pytest.mark.slow
def test_mmocr_inferencer_runs_default_detector_with_our_recognizer(tiny_checkpoint, monkeypatch):
    from pipeline.openmmlab.compat import apply_openmmlab_workarounds, trusted_checkpoints

    apply_openmmlab_workarounds()
    from mmocr.apis import MMOCRInferencer

    with trusted_checkpoints(tiny_checkpoint), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inferencer = MMOCRInferencer(
            det=str(REPO / "detector_configs" / "default.py"),
            rec=str(REPO / "tests" / "configs" / "tiny_clip4str.py"),
            rec_weights=str(tiny_checkpoint),
            device="cpu",
        )
    # The default detector's weights are inside its ONNX graph: no false "randomly
    # initialized" warning for it.
    assert not [w for w in caught if "Checkpoint is not loaded" in str(w.message)]
    # Crops per recognizer pass: our configs' inference_batch_size (32), not MMOCR's 1.
    passes = []
    predict = type(inferencer.textrec_inferencer.model).predict
    monkeypatch.setattr(
        type(inferencer.textrec_inferencer.model),
        "predict",
        lambda model, inputs, *args, **kwargs: (
            passes.append(len(inputs)) or predict(model, inputs, *args, **kwargs)
        ),
    )
    prediction = inferencer(str(SCENES / "images" / "img_26.jpg"))["predictions"][0]
    assert passes == [len(prediction["det_polygons"])]
    inferencer(str(SCENES / "images" / "img_26.jpg"), rec_batch_size=2)  # the call's wins
    assert max(passes[1:]) == 2
    assert len(prediction["det_polygons"]) >= 5
    assert len(prediction["rec_texts"]) == len(prediction["det_polygons"])
    assert all(isinstance(t, str) for t in prediction["rec_texts"])
    assert all(len(np.asarray(p).reshape(-1, 2)) >= 4 for p in prediction["det_polygons"])


@pytest.mark.slow
def test_eval_command_prints_detection_and_end_to_end_scores(tiny_checkpoint):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "eval",
            str(SCENES / "scenes.jsonl"),
            "--limit",
            "3",
            "--recognizer",
            str(tiny_checkpoint),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "detection:  precision" in result.stdout
    assert "end-to-end: precision" in result.stdout
    assert "images/s (3 images)" in result.stdout
