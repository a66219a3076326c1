"""``benchmarks/stage_times.py`` times the stages it names, on real photos."""

import re

import pytest
from conftest import REPO, run_python


@pytest.mark.slow
def test_stage_times_measures_every_stage_of_both_engines():
    result = run_python(REPO / "benchmarks" / "stage_times.py", "--limit", 2)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    out = result.stdout
    ours = out[out.index("\nours:") :]
    seconds = {
        name: float(value)
        for name, value in re.findall(r"^  (\S.*?)\s+(-?\d+\.\d+) s/photo", ours, re.MULTILINE)
    }
    assert set(seconds) == {
        "detector network",
        "line reader",
        "rest of detection",
        "recognizer",
        "rest",
    }
    # Each wrapper was reached (a renamed stage would leave its time at 0), and the stages
    # timed inside detection fit within it.
    for stage in ("detector network", "line reader", "recognizer"):
        assert seconds[stage] > 0, stage
    assert seconds["rest of detection"] >= 0 and seconds["rest"] >= 0
    assert re.search(r"^RapidOCR: \d+\.\d+ s/photo", out, re.MULTILINE)
