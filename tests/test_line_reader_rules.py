"""``benchmarks/line_reader_rules.py`` scores each rule as the pipeline itself would read."""

import re

import pytest
from conftest import DATA, REPO, run_python

SCENES = DATA / "icdar2015_dev_scenes" / "scenes.jsonl"
PHOTOS = 4


@pytest.mark.slow
@pytest.mark.skipif(not SCENES.is_file(), reason="ICDAR 2015 scenes not available")
def test_the_rules_scored_from_one_run_equal_the_pipeline_run_with_each():
    from pipeline import OCRPipeline
    from pipeline.evaluation import evaluate_scenes

    result = run_python(
        REPO / "benchmarks" / "line_reader_rules.py", "--scenes", SCENES, "--limit", PHOTOS
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    rows = {
        name.strip(): (float(hmean), int(right), int(kept))
        for name, hmean, right, kept in re.findall(
            r"^(\S.*?)\s+(\d\.\d{4})\s+(\d+)\s+(\d+)\s+\d\.\d{4}\s+\d+$",
            result.stdout,
            re.MULTILINE,
        )
    }
    assert len(rows) == 15, result.stdout
    pipeline = OCRPipeline()
    for rule, margin in (("the recognizer's text only", None), ("surer text, margin 0", 0.0)):
        pipeline.line_reader_margin = margin
        report = evaluate_scenes(pipeline, SCENES, limit=PHOTOS).end_to_end
        hmean, right, kept = rows[rule]
        assert (right, kept) == (report.true_positives, report.num_detections), rule
        assert hmean == pytest.approx(report.hmean, abs=1e-4), rule
