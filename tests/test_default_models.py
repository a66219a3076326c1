"""The shipped default models on real data give the figures that the README states.

``recognizer/weights/default/measured.json`` holds the figures measured when the weights
were exported (IIIT5K word accuracy, end-to-end H-mean on the ICDAR 2015 photos), on the
whole sets and on fixed samples of them (``benchmarks/measure_default_models.py``). These
tests measure the samples again and compare, and check that the README and model card quote
the whole-set figures. ``python benchmarks/measure_default_models.py --check`` re-measures
the whole sets.
"""

import json

import pytest
from conftest import DATA, REPO

import recognizer
from recognizer.__main__ import evaluate_folder

WEIGHTS = REPO / "recognizer" / "weights" / "default"
IIIT5K = DATA / "iiit5k_test"
SCENES = DATA / "icdar2015_dev_scenes" / "scenes.jsonl"


@pytest.fixture(scope="module")
def measured():
    return json.loads((WEIGHTS / "measured.json").read_text())


@pytest.mark.slow
@pytest.mark.skipif(not IIIT5K.is_dir(), reason="IIIT5K test crops not available")
def test_default_recognizer_reads_iiit5k_as_stated(measured):
    sample = measured["samples"]["iiit5k_test"]
    accuracy, _ = evaluate_folder(recognizer.load("default"), IIIT5K, limit=sample["crops"])
    assert accuracy.total == sample["crops"] == 300
    # Thread scheduling can flip a near-tie; the sample's figure must hold to one crop.
    assert accuracy.alnum == pytest.approx(sample["alnum"], abs=0.0034)
    assert accuracy.exact == pytest.approx(sample["case_sensitive"], abs=0.0034)
    stated = measured["iiit5k_test"]
    assert stated["crops"] == 3000
    for document in (REPO / "README.md", WEIGHTS / "MODEL_CARD.md"):
        assert f"{stated['alnum']:.3f}" in document.read_text(), document


@pytest.mark.slow
@pytest.mark.skipif(not SCENES.is_file(), reason="ICDAR 2015 scenes not available")
def test_default_pipeline_reads_the_icdar2015_photos_as_stated(measured):
    from pipeline import OCRPipeline
    from pipeline.evaluation import evaluate_scenes

    sample = measured["samples"]["icdar2015_dev_scenes"]
    report = evaluate_scenes(OCRPipeline(), SCENES, limit=sample["images"])
    assert report.images == sample["images"] == 20
    assert report.detection.hmean == pytest.approx(sample["detection_hmean"], abs=1e-3)
    assert report.end_to_end.hmean == pytest.approx(sample["end_to_end_hmean"], abs=2e-3)
    stated = measured["icdar2015_dev_scenes"]
    assert stated["images"] == 100
    readme = (REPO / "README.md").read_text()
    assert f"{stated['end_to_end_hmean']:.3f}" in readme
