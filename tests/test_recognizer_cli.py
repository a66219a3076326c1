"""``python -m recognizer read`` and ``eval`` as a user runs them."""

import pytest
from conftest import REPO, run_module

from recognizer import CLIP4STR


def _run(*args, cwd=REPO):
    return run_module("recognizer", *args, cwd=cwd)


def _texts_read(checkpoint, crops) -> list[str]:
    """What the API reads on these crops (each as the official code reads it alone)."""
    return [r.text for r in CLIP4STR.from_checkpoint(checkpoint).read(crops)]


@pytest.fixture
def crop_files(reference, tmp_path):
    paths = []
    for name, png in zip(reference["crop_names"][:3], reference["crops_png"]):
        path = tmp_path / name
        path.write_bytes(png)
        paths.append(path)
    return paths


def test_read_prints_text_and_confidence_per_crop(tiny_checkpoint, crop_files):
    result = _run("read", *crop_files, "--checkpoint", tiny_checkpoint)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    expected = _texts_read(tiny_checkpoint, crop_files)
    assert [line.split("\t")[1] for line in lines] == expected
    for line, path in zip(lines, crop_files):
        name, _, confidence = line.split("\t")
        assert name == str(path) and 0.0 <= float(confidence) <= 1.0


def test_read_names_a_bad_crop_and_still_reads_the_others(tiny_checkpoint, crop_files, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_text("this is text")
    result = _run("read", crop_files[0], bad, "--checkpoint", tiny_checkpoint)
    assert result.returncode == 1
    assert "broken.png" in result.stderr and "not an image" in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1


def test_a_bad_checkpoint_is_an_error_message_not_a_traceback(crop_files, tmp_path):
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = _run("read", crop_files[0], "--checkpoint", bad)
    assert result.returncode == 2
    assert "model.ckpt" in result.stderr and "Traceback" not in result.stderr


def test_eval_prints_both_accuracies_and_speed(tiny_checkpoint, crop_files, tmp_path):
    texts = _texts_read(tiny_checkpoint, crop_files)
    labels = tmp_path / "labels.tsv"
    # Two labels equal the model's reading, one differs only in case: 2/3 exact, 3/3 alnum.
    rows = [
        f"{crop_files[0].name}\t{texts[0]}",
        f"{crop_files[1].name}\t{texts[1]}",
        f"{crop_files[2].name}\t{texts[2].swapcase()}",
    ]
    labels.write_text("\n".join(rows) + "\n")
    assert texts[2].swapcase() != texts[2]
    result = _run("eval", "--data", tmp_path, "--checkpoint", tiny_checkpoint)
    assert result.returncode == 0, result.stderr
    assert "alphanumeric): 1.0000" in result.stdout
    assert "case-sensitive): 0.6667" in result.stdout
    assert "crops/s" in result.stdout
