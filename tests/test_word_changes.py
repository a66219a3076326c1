"""``benchmarks/word_changes.py`` lists the words a change gains and loses, with a sign test."""

import importlib.util
import re
import sys

import pytest
from conftest import DATA, REPO, run_python

SCENES = DATA / "icdar2015_dev_scenes" / "scenes.jsonl"


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "word_changes", REPO / "benchmarks" / "word_changes.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


word_changes = load_benchmark()


def test_the_sign_test_is_exact_and_two_sided():
    assert word_changes.sign_test(0, 0) == 1.0
    assert word_changes.sign_test(5, 0) == pytest.approx(2 / 32)
    assert word_changes.sign_test(0, 5) == pytest.approx(2 / 32)
    assert word_changes.sign_test(7, 10) == pytest.approx(0.6291, abs=1e-4)
    assert word_changes.sign_test(3, 3) == 1.0  # capped: both tails hold the middle
    assert word_changes.sign_test(15, 2) < 0.01


def quad(left, right):
    return [left, 0, right, 0, right, 20, left, 20]


SCENE = {
    "file": "photo.jpg",
    "instances": [
        {"polygon": quad(0, 100), "text": "Hello", "ignore": False},
        {"polygon": quad(150, 250), "text": "world", "ignore": False},
        {"polygon": quad(300, 400), "text": "###", "ignore": True},
    ],
}


def test_each_readable_word_gets_its_category_and_changes_are_listed():
    before = word_changes.categories_of_scene(
        SCENE, [quad(0, 100), quad(150, 250)], ["Hello", "wor1d"]
    )
    after = word_changes.categories_of_scene(SCENE, [quad(0, 250)], ["Helloworld"])
    assert before == {
        ("photo.jpg", 0): ("Hello", "read right"),
        ("photo.jpg", 1): ("world", "wrong text"),
    }
    assert set(after.values()) == {
        ("Hello", "merged with a neighbor"),
        ("world", "merged with a neighbor"),
    }
    changed = word_changes.changes(before, after)
    assert changed == [
        ("photo.jpg", "Hello", "read right", "merged with a neighbor"),
        ("photo.jpg", "world", "wrong text", "merged with a neighbor"),
    ]
    rows = word_changes.report(changed)
    assert "photo.jpg  'Hello': read right -> merged with a neighbor" in rows
    assert "   1  wrong text -> merged with a neighbor" in rows
    assert rows[-1] == "words gained: 0, lost: 1 (net -1); sign test p = 1.00"
    # The reverse change gains the word back.
    assert word_changes.report(word_changes.changes(after, before))[-1].startswith(
        "words gained: 1, lost: 0 (net +1)"
    )


def test_runs_over_different_photos_are_refused():
    before = {("a.jpg", 0): ("x", "read right")}
    with pytest.raises(ValueError, match="different words"):
        word_changes.changes(before, {("b.jpg", 0): ("x", "read right")})


def test_a_missing_scenes_file_is_named(tmp_path, capsys):
    assert word_changes.main(["--scenes", str(tmp_path / "none.jsonl")]) == 2
    assert "none.jsonl" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not SCENES.is_file(), reason="ICDAR 2015 scenes not available")
def test_a_pipeline_against_itself_changes_no_word():
    result = run_python(
        REPO / "benchmarks" / "word_changes.py", "--scenes", SCENES, "--limit", 2, "--change", ""
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    scores = re.findall(r"end-to-end (precision .*)$", result.stdout, re.MULTILINE)
    assert len(scores) == 2 and scores[0] == scores[1], result.stdout
    assert "(0 matched" not in scores[0]  # the photos were read
    assert "words gained: 0, lost: 0 (net +0); sign test p = 1.00" in result.stdout
