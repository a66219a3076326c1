"""Odd inputs and failures give a clear message or a sensible picture, never a traceback."""

import errno

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from pipeline import OCRPipeline
from pipeline.batch import plan_jobs, run_jobs
from pipeline.cli import main
from pipeline.openmmlab.ppocr_detector import ppocr_input_size
from pipeline.stages import Detection
from recognizer import CLIP4STR, CheckpointError, CLIP4STRConfig, Reading
from recognizer.clip_backbone import SMALL_CONV
from recognizer.images import open_image


def text_image(mode_size=(120, 40)) -> Image.Image:
    image = Image.new("L", mode_size, 255)
    ImageDraw.Draw(image).rectangle([20, 10, 100, 30], fill=0)  # a dark "word"
    return image


def test_a_16_bit_grayscale_png_keeps_its_contrast(tmp_path):
    deep = (np.asarray(text_image(), dtype=np.uint16) * 257).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(deep).save(path)  # PIL writes a 16-bit PNG for uint16 data
    assert Image.open(path).mode.startswith("I")
    pixels = np.asarray(open_image(path))
    assert pixels[20, 60].max() < 10 and pixels[2, 2].min() > 245  # not clipped to white


def test_black_text_on_a_transparent_png_stays_readable(tmp_path):
    rgba = Image.new("RGBA", (120, 40), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle([20, 10, 100, 30], fill=(0, 0, 0, 255))
    rgba.save(tmp_path / "logo.png")
    pixels = np.asarray(open_image(tmp_path / "logo.png"))
    assert pixels[20, 60].max() < 10 and pixels[2, 2].min() > 245  # black on white
    white = Image.new("RGBA", (120, 40), (0, 0, 0, 0))
    ImageDraw.Draw(white).rectangle([20, 10, 100, 30], fill=(255, 255, 255, 255))
    white.save(tmp_path / "white.png")
    pixels = np.asarray(open_image(tmp_path / "white.png"))
    assert pixels[20, 60].min() > 245 and pixels[2, 2].max() < 10  # white on black


def test_random_bytes_are_not_a_checkpoint_and_no_trust_is_suggested(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint") as caught:
        CLIP4STR.from_checkpoint(path)
    assert "trust" not in str(caught.value)


@pytest.mark.parametrize(
    "config_text, reason",
    [('{"clip": ', "not valid JSON"), ('{"charset": "abc"}', "missing 'clip'"), ("[1, 2]", "")],
)
def test_a_broken_config_json_is_named(tmp_path, config_text, reason):
    folder = tmp_path / "model"
    CLIP4STR(CLIP4STRConfig(clip=SMALL_CONV, decoder_heads=6)).save_pretrained(folder)
    (folder / "config.json").write_text(config_text)
    with pytest.raises(CheckpointError, match="config.json") as caught:
        CLIP4STR.from_checkpoint(folder)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--batch-size", "0", "must be at least 1"),
        ("--batch-size", "-5", "must be at least 1"),
        ("--images-per-batch", "x", "not a whole number"),
        ("--min-confidence", "2", "between 0 and 1"),
        ("--device", "banana", "not a torch device"),
    ],
)
def test_bad_option_values_are_usage_errors(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(tmp_path), "--out", str(tmp_path / "out"), option, value])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path), "--out", str(tmp_path / "out"), "--device", "cuda"])
    assert "CUDA is not available" in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_written_is_refused_before_models_load(
    tmp_path, capsys
):
    photo = tmp_path / "a.png"
    text_image().convert("RGB").save(photo)
    taken = tmp_path / "results"
    taken.write_text("a file, not a folder")
    assert main(["run", str(photo), "--out", str(taken)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["run", str(photo), "--out", "/proc/no-such-place/out"]) == 2
    assert "cannot write results to /proc/no-such-place/out" in capsys.readouterr().err


def test_thin_strips_are_not_enlarged_into_gigapixels():
    for height, width in ((1, 5000), (5000, 1), (2, 100000), (45, 600)):
        new_h, new_w = ppocr_input_size(height, width)
        assert new_h * new_w <= 2016 * 2016


class EveryImageOneWord:
    def detect(self, images):
        box = np.array([[2, 2], [30, 2], [30, 12], [2, 12]], np.float32)
        return [[Detection(box, 0.9)] for _ in images]


class Reader:
    def __init__(self, interrupt_after: int | None = None):
        self.calls, self.interrupt_after = 0, interrupt_after

    def read(self, crops, batch_size=64):
        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt
        return [Reading("word", 0.9, [0.9]) for _ in crops]


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        text_image().convert("RGB").save(folder / name)
    return folder


def test_a_full_disk_stops_the_run_with_a_reason_and_keeps_what_was_written(
    photos, tmp_path, monkeypatch
):
    import pipeline.batch as batch

    real_write = batch.write_atomically
    writes = []

    def write_until_full(path, data):
        if len(writes) == 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        writes.append(path)
        real_write(path, data)

    monkeypatch.setattr(batch, "write_atomically", write_until_full)
    jobs = plan_jobs([photos], tmp_path / "out")
    report = run_jobs(OCRPipeline(EveryImageOneWord(), Reader()), jobs, images_per_batch=1)
    assert report.read == 1 and len(report.failures) == 1
    assert "No space left" in report.stopped and "could not write" in report.failures[0][1]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png.json"]
    monkeypatch.setattr(batch, "write_atomically", real_write)
    again = run_jobs(OCRPipeline(EveryImageOneWord(), Reader()), jobs, images_per_batch=1)
    assert (again.read, again.skipped, again.ok) == (2, 1, True)  # the rest, once space is back


def test_an_interrupted_run_keeps_what_is_done_and_says_how_to_go_on(photos, tmp_path, capsys):
    from pipeline.cli import _report

    jobs = plan_jobs([photos], tmp_path / "out")
    pipeline = OCRPipeline(EveryImageOneWord(), Reader(interrupt_after=1))
    report = run_jobs(pipeline, jobs, images_per_batch=1)
    assert report.stopped == "interrupted" and report.read == 1
    assert (tmp_path / "out" / "a.png.json").is_file()

    class Args:
        out = tmp_path / "out"

    assert _report(Args(), report, single=False) == 130
    assert "stopped; 1 photos done, run the same command again" in capsys.readouterr().err


def test_photos_too_small_to_hold_text_give_an_empty_result_not_a_guess():
    class SeesTextEverywhere:
        def __init__(self):
            self.seen = []

        def detect(self, images):
            self.seen += [image.shape[:2] for image in images]
            return EveryImageOneWord().detect(images)

    detector = SeesTextEverywhere()
    tiny = [np.zeros((1, 1, 3), np.uint8), np.zeros((2, 2, 3), np.uint8)]
    ordinary = np.full((40, 120, 3), 255, np.uint8)
    results = OCRPipeline(detector, Reader()).ocr_batch([*tiny, ordinary])
    assert [len(r.words) for r in results] == [0, 0, 1]
    assert detector.seen == [(40, 120)]
    assert (results[0].width, results[0].height) == (1, 1)


def test_broken_links_and_link_loops_are_named_not_skipped(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    text_image().convert("RGB").save(folder / "good.png")
    (folder / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    jobs = plan_jobs([folder], tmp_path / "out")
    assert sorted(j.photo.name for j in jobs) == ["gone.jpg", "good.png", "loop.jpg"]
    report = run_jobs(OCRPipeline(EveryImageOneWord(), Reader()), jobs)
    reasons = {path.name: why for path, why in report.failures}
    assert report.read == 1
    assert "broken symbolic link" in reasons["gone.jpg"]
    assert "symbolic link loop" in reasons["loop.jpg"]
    assert main(["run", str(folder / "loop.jpg")]) == 2
    assert "loop.jpg: symbolic link loop" in capsys.readouterr().err


def test_help_and_option_checks_load_no_model_code():
    import subprocess
    import sys

    from conftest import REPO

    probe = (
        "import sys\n"
        "from pipeline.cli import build_parser\n"
        "build_parser().parse_args(['run', 'x.jpg', '--batch-size', '8'])\n"
        "print(sorted(m for m in ('torch', 'open_clip', 'mmocr', 'fpdf') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_each_failure_names_its_file_once(tmp_path, capsys):
    from pathlib import Path

    from pipeline.batch import BatchReport
    from pipeline.cli import _report

    class Args:
        out = tmp_path

    report = BatchReport(
        failures=[(Path("a.jpg"), "a.jpg: not an image"), (Path("b.jpg"), "could not write")]
    )
    assert _report(Args(), report, single=False) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("failed")]
    assert lines == ["failed: a.jpg: not an image", "failed: b.jpg: could not write"]
