"""``benchmarks/box_fit.py`` measures where each word box ends against its ground truth."""

import importlib.util
import re
import sys

import pytest
from conftest import DATA, REPO, run_python

SCENES = DATA / "icdar2015_dev_scenes" / "scenes.jsonl"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("box_fit", REPO / "benchmarks" / "box_fit.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


box_fit = load_benchmark()


def quad(left, top, right, bottom):
    """An ICDAR quad, clockwise from the top-left corner."""
    return [left, top, right, top, right, bottom, left, bottom]


def test_margins_are_in_word_heights_and_negative_where_the_box_ends_inside():
    word = quad(0, 0, 100, 20)
    lead, tail, top, bottom = box_fit.margins(word, quad(-10, -2, 90, 24))
    assert (lead, tail, top, bottom) == pytest.approx((0.5, -0.5, 0.1, 0.2))


def test_margins_follow_the_reading_direction_of_the_point_order():
    # The same word read top to bottom: its first point is the top-right corner, and its
    # "height" runs along x.
    word = [20, 0, 20, 100, 0, 100, 0, 0]
    box = quad(-2, 10, 24, 110)  # starts 10 px inside the word, ends 10 px past it
    lead, tail, top, bottom = box_fit.margins(word, box)
    assert (lead, tail) == pytest.approx((-0.5, 0.5))
    assert (top, bottom) == pytest.approx((0.2, 0.1))


def test_only_readable_words_with_a_box_of_their_own_are_paired():
    scene = {
        "instances": [
            {"polygon": quad(0, 0, 100, 20), "text": "Hello", "ignore": False},
            {"polygon": quad(200, 0, 300, 20), "text": "###", "ignore": True},
            {"polygon": quad(400, 0, 500, 20), "text": "far", "ignore": False},
            {"polygon": quad(600, 0, 700, 20), "text": "--", "ignore": False},
        ]
    }
    boxes = [quad(5, 0, 100, 20), quad(200, 0, 300, 20), quad(400, 0, 900, 20)]
    fits = box_fit.fits_of_scene(scene, boxes, ["hello!", "x", "far"])
    # "far"'s box is five times its size (IoU 0.2): not its box; "--" has no letter.
    assert len(fits) == 1
    assert fits[0].read_right
    assert fits[0].lead == pytest.approx(-0.25)
    assert fits[0].iou == pytest.approx(0.95)


def test_the_summary_counts_words_short_at_either_end():
    Fit = box_fit.Fit
    fits = [
        Fit(-0.3, 0.1, 0.1, 0.1, 0.8, False),
        Fit(0.1, -0.25, 0.1, 0.1, 0.8, True),
        Fit(0.1, 0.1, 0.1, 0.1, 0.9, True),
        Fit(-0.1, 0.0, 0.1, 0.1, 0.9, True),
    ]
    text = "\n".join(box_fit.summary(fits, short=0.2))
    assert re.search(r"^lead .* 25\.0% \(1\)$", text, re.MULTILINE), text
    assert re.search(r"^tail .* 25\.0% \(1\)$", text, re.MULTILINE), text
    assert "start or end short: 50.0% (2 of 4)" in text
    assert "read right: 33.3% (1 of 3)" in text
    assert "read wrong: 100.0% (1 of 1)" in text
    assert box_fit.summary([], 0.2) == ["no word paired with a box"]


@pytest.mark.slow
@pytest.mark.skipif(not SCENES.is_file(), reason="ICDAR 2015 scenes not available")
def test_the_benchmark_runs_the_pipeline_on_real_photos():
    result = run_python(REPO / "benchmarks" / "box_fit.py", "--scenes", SCENES, "--limit", 2)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    paired = int(re.search(r"paired with a box \(IoU >= 0.3\): (\d+)", result.stdout)[1])
    matched = int(re.search(r"detection: .*\((\d+) matched", result.stdout)[1])
    # Every word matched at IoU >= 0.5 is paired, and the two photos hold words.
    assert paired >= matched > 0
    for side in ("lead", "tail", "top", "bottom"):
        assert re.search(rf"^{side}\s+-?\d\.\d\d\s+-?\d\.\d\d\s+\d", result.stdout, re.MULTILINE)
