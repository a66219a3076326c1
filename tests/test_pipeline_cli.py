"""``ocr-pipeline run`` on folders: JSON per photo, bad files named, resumable."""

import json
import shutil
from pathlib import Path

import pytest
from conftest import DATA, REPO, run_module

SCENES = DATA / "icdar2015_dev_scenes" / "images"


def _run(*args, cwd=REPO, env=None):
    return run_module("pipeline.cli", *args, cwd=cwd, env=env)


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    (folder / "street").mkdir(parents=True)
    shutil.copy(SCENES / "img_26.jpg", folder / "img_26.jpg")
    shutil.copy(SCENES / "img_29.jpg", folder / "street" / "img_29.jpg")
    data = (SCENES / "img_2.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "notes.jpg").write_text("this is a text file, not a photo")
    (folder / "empty.png").write_bytes(b"")
    return folder


@pytest.mark.slow
def test_folder_run_writes_json_names_bad_files_and_resumes(
    photo_folder, tmp_path, tiny_checkpoint
):
    out = tmp_path / "out"
    # (The tiny random recognizer reads with little confidence: keep every word.)
    args = ["run", photo_folder, "--out", out, "--recognizer", tiny_checkpoint]
    args += ["--min-confidence", "0"]
    first = _run(*args)
    assert first.returncode == 1, first.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert written == ["img_26.jpg.json", "street/img_29.jpg.json"]
    for path in out.rglob("*.json"):
        data = json.loads(path.read_text())
        assert data["schema_version"] == 2 and data["words"], path
        assert all(len(w["polygon"]) >= 4 for w in data["words"])
    failures = [line for line in first.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failures) == 3
    reasons = "\n".join(failures)
    assert "truncated.jpg" in reasons and "notes.jpg" in reasons and "empty.png" in reasons
    assert "empty" in reasons and "not an image" in reasons

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.json")}
    second = _run(*args)
    assert "2 already done" in second.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.json")} == before
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_several_photos_print_one_json_line_each_and_name_the_bad_one(
    photo_folder, tiny_checkpoint
):
    photos = [photo_folder / "img_26.jpg", photo_folder / "notes.jpg", SCENES / "img_29.jpg"]
    run = _run(
        "run", *photos, "--format", "json", "--recognizer", tiny_checkpoint, "--min-confidence", "0"
    )
    assert run.returncode == 1
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert [Path(r["image"]["path"]).name for r in results] == ["img_26.jpg", "img_29.jpg"]
    assert all(r["schema_version"] == 2 and r["words"] for r in results)
    assert "failed: " in run.stderr and "notes.jpg" in run.stderr


def test_a_folder_without_out_and_a_missing_path_are_usage_errors(tmp_path):
    (tmp_path / "photos").mkdir()
    no_out = _run("run", tmp_path / "photos")
    assert no_out.returncode == 2 and "needs --out" in no_out.stderr
    missing = _run("run", tmp_path / "nowhere.jpg")
    assert missing.returncode == 2 and "nowhere.jpg: no such file or folder" in missing.stderr


@pytest.mark.slow
def test_onnx_recognizer_backend_reads_a_real_photo_like_pytorch(tmp_path):
    import os

    env = {**os.environ, "OCR_PIPELINE_HOME": str(tmp_path / "home")}
    words = {}
    for backend in ("torch", "onnx"):
        result = _run(
            "run",
            SCENES / "img_26.jpg",
            "--format",
            "json",
            "--recognizer-backend",
            backend,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        words[backend] = [w["text"] for w in json.loads(result.stdout)["words"]]
    assert len(words["torch"]) >= 5
    assert words["onnx"] == words["torch"]
    assert list((tmp_path / "home" / "models" / "onnx").glob("*/onnx.json"))
