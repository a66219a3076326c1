"""``ocr-pipeline run`` on folders: JSON per photo, bad files named, resumable."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import DATA, REPO

SCENES = DATA / "icdar2015_dev_scenes" / "images"


def _run(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


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
    args = ["run", photo_folder, "--out", out, "--recognizer", tiny_checkpoint]
    first = _run(*args)
    assert first.returncode == 1, first.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert written == ["img_26.jpg.json", "street/img_29.jpg.json"]
    for path in out.rglob("*.json"):
        data = json.loads(path.read_text())
        assert data["schema_version"] == 1 and data["words"], path
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
