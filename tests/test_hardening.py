"""Odd inputs and failures give a clear message or a sensible picture, never a traceback."""

import collections
import errno
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image, ImageDraw

from pipeline import OCRPipeline
from pipeline.batch import plan_jobs, run_jobs
from pipeline.cli import main
from pipeline.openmmlab.ppocr_detector import ppocr_input_size
from pipeline.stages import Detection
from recognizer import (
    CLIP4STR,
    CheckpointError,
    CLIP4STRConfig,
    ImageError,
    MultiFrameWarning,
    Reading,
)
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
        ("--line-reader-margin", "1.5", "between -1 and 1 (or off)"),
        ("--line-reader-margin", "never", "neither a number nor 'off'"),
        ("--line-reader-trust", "-0.5", "between 0 and 1 (or off)"),
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


def test_an_output_folder_that_cannot_be_written_is_refused_before_models_load(tmp_path, capsys):
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
    # (No page orientation: it would read crops too, and the count is of reads.)
    pipeline = OCRPipeline(EveryImageOneWord(), Reader(interrupt_after=1), orient_pages=False)
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


# ------------------------------------------------------------- runs sharing one folder


class SlowCountingPipeline:
    """A stand-in pipeline that records each photo it loads and takes its time over it."""

    def __init__(self, loaded: list):
        self.inner, self.loaded = OCRPipeline(EveryImageOneWord(), Reader()), loaded

    def detect_chunk(self, items):
        self.loaded.extend(items)
        time.sleep(0.05 * len(items))
        return self.inner.detect_chunk(items)

    def read_chunk(self, chunk):
        return self.inner.read_chunk(chunk)


def test_two_runs_on_one_output_folder_share_the_photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        text_image().convert("RGB").save(folder / f"p{i}.png")
    out = tmp_path / "out"
    loaded, reports = [], []

    def run():
        jobs = plan_jobs([folder], out)
        reports.append(run_jobs(SlowCountingPipeline(loaded), jobs, images_per_batch=1))

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert sorted(collections.Counter(loaded).values()) == [1] * 8  # each photo read once
    assert sum(report.read for report in reports) == 8
    assert all(report.ok for report in reports)
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png.json" for i in range(8)]


def test_stale_claims_are_taken_over_and_live_ones_left_to_their_run(photos, tmp_path, capsys):
    from pipeline.batch import STALE_CLAIM_HOURS
    from pipeline.cli import _report

    text_image().convert("RGB").save(photos / "d.png")
    out = tmp_path / "out"
    jobs = {job.photo.name: job for job in plan_jobs([photos], out)}
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    here, elsewhere = socket.gethostname(), "another-machine"
    claims = {
        "a.png": {"pid": ended.pid, "host": here},  # its process has ended
        "b.png": {"pid": os.getpid(), "host": here},  # a live run (this process)
        "c.png": {"pid": 1, "host": elsewhere},  # another machine's, recent
        "d.png": {"pid": 1, "host": elsewhere},  # another machine's, too old
    }
    for name, record in claims.items():
        jobs[name].claim.parent.mkdir(parents=True, exist_ok=True)
        jobs[name].claim.write_text(json.dumps({**record, "run": "other"}))
    old = time.time() - (STALE_CLAIM_HOURS + 1) * 3600
    os.utime(jobs["d.png"].claim, (old, old))

    loaded = []
    report = run_jobs(SlowCountingPipeline(loaded), list(jobs.values()))
    assert sorted(p.name for p in loaded) == ["a.png", "d.png"]
    assert sorted(p.name for p in report.claimed_elsewhere) == ["b.png", "c.png"]
    assert report.ok and report.read == 2
    assert sorted(p.name for p in out.iterdir()) == [
        "a.png.json",
        "b.png.json.claim",  # still the other runs'
        "c.png.json.claim",
        "d.png.json",
    ]

    class Args:
        pass

    Args.out = out
    assert _report(Args(), report, single=False) == 0
    err = capsys.readouterr().err
    assert f"2 photos left to another run in progress on {out}; re-run to check" in err
    assert "2 photos read, 0 already done, 0 failed, 2 left to another run" in err


def test_a_claim_is_removed_when_the_photo_fails_or_the_run_is_interrupted(photos, tmp_path):
    (photos / "bad.png").write_bytes(b"not a photo")
    out = tmp_path / "out"
    jobs = plan_jobs([photos], out)
    # (No page orientation: it would read crops too, and the count is of reads.)
    pipeline = OCRPipeline(EveryImageOneWord(), Reader(interrupt_after=1), orient_pages=False)
    report = run_jobs(pipeline, jobs, images_per_batch=1)
    assert report.stopped == "interrupted" and report.read == 1
    assert not list(out.glob("*.claim"))  # nor of the photos claimed ahead
    report = run_jobs(OCRPipeline(EveryImageOneWord(), Reader()), jobs)
    assert [p.name for p, _ in report.failures] == ["bad.png"]
    assert not list(out.glob("*.claim"))


# ------------------------------------------------------------- bare state dicts


def test_a_bare_state_dict_of_the_default_model_loads_and_reads_the_same(tmp_path):
    import recognizer

    original = recognizer.load("default")
    path = tmp_path / "sd.pt"
    torch.save(original.state_dict(), path)
    restored = recognizer.load(path)
    assert restored.config == original.config
    recorded = json.loads((REPO / "demo" / "results" / "blue_plaque.jpg.json").read_text())
    photo = Image.open(REPO / "demo" / "blue_plaque.jpg").convert("RGB")
    crops = []
    for word in recorded["words"][:6]:
        xs, ys = zip(*word["polygon"])
        crops.append(photo.crop((min(xs), min(ys), max(xs), max(ys))))
    assert restored.read(crops) == original.read(crops)

    # Its image tower's last block left out:
    dropped = "visual.transformer.resblocks.1."
    state = {k: v for k, v in original.state_dict().items() if dropped not in k}
    assert len(state) < len(original.state_dict())
    torch.save(state, tmp_path / "grown.pt")  # a shape no known architecture has
    with pytest.raises(CheckpointError) as caught:
        recognizer.load(tmp_path / "grown.pt")
    message = str(caught.value)
    assert str(tmp_path / "grown.pt") in message and "fits no known architecture" in message
    assert "save_pretrained(folder)" in message


# ------------------------------------------------------------- huge photos


def png_declaring(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of this size: a few kilobytes however large it is."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_a_huge_photo_is_refused_with_its_size_and_the_limit_not_by_pil(tmp_path):
    from pipeline.photos import load_photo

    path = tmp_path / "scan.png"
    path.write_bytes(png_declaring(20000, 15000))
    assert path.stat().st_size < 100_000
    for limit in (150_000_000, 250_000_000):  # PIL alone refuses anything over 179 MP
        with pytest.raises(ImageError) as caught:
            load_photo(path, max_pixels=limit)
        assert f"scan.png: 20000x15000 is 300000000 pixels, more than the limit of {limit}" in (
            str(caught.value)
        )


def test_pil_neither_refuses_nor_warns_about_a_photo_below_max_pixels(tmp_path, monkeypatch):
    from pipeline.photos import load_photo

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL refuses over 2000 pixels
    path = tmp_path / "big.png"
    text_image((100, 100)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning would fail the test
        assert load_photo(path, max_pixels=10_000).shape == (100, 100, 3)
    assert Image.MAX_IMAGE_PIXELS == 1000  # put back
    with pytest.raises(ImageError, match=r"big.png: 100x100 is 10000 pixels.* limit of 5000"):
        load_photo(path, max_pixels=5000)


# ------------------------------------------------------------- files of several frames


@pytest.fixture
def multi_frame_files(tmp_path):
    frames = [Image.new("RGB", (60, 30), color) for color in ("white", "red", "blue")]
    frames[0].save(tmp_path / "x.gif", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(tmp_path / "y.tif", save_all=True, append_images=frames[1:2])
    return tmp_path / "x.gif", tmp_path / "y.tif"


def test_a_file_of_several_frames_warns_that_only_the_first_is_read(multi_frame_files):
    from pipeline.photos import load_photo

    gif, tiff = multi_frame_files
    with pytest.warns(MultiFrameWarning, match="x.gif has 3 frames; only the first is read"):
        assert load_photo(gif)[0, 0].tolist() == [255, 255, 255]
    with pytest.warns(MultiFrameWarning, match="y.tif has 2 frames; only the first is read"):
        load_photo(tiff)


def test_the_command_notes_each_file_of_several_frames_once(
    multi_frame_files, tmp_path, monkeypatch, capsys
):
    import pipeline.cli as cli

    monkeypatch.setattr(cli, "_pipeline", lambda args: OCRPipeline(EveryImageOneWord(), Reader()))
    gif, tiff = multi_frame_files
    out = tmp_path / "out"
    assert main(["run", str(gif), str(tiff), "--out", str(out), "--format", "json,pdf"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: {gif} has 3 frames; only the first is read",
        f"note: {tiff} has 2 frames; only the first is read",
    ]


# ------------------------------------------------------------- the demo


def test_a_run_with_everything_done_shows_the_text_recorded(tmp_path, monkeypatch, capsys):
    import pipeline.cli as cli

    def no_models(args):
        raise AssertionError("everything is done: no model may load")

    monkeypatch.setattr(cli, "_pipeline", no_models)
    demo = REPO / "demo"
    assert main(["run", str(demo), "--out", str(demo / "results"), "--visualize"]) == 0
    shown = capsys.readouterr()
    assert f"all 4 photos are already done in {demo / 'results'} (--overwrite" in shown.err
    assert f"==> {demo / 'blue_plaque.jpg'} <==\nSouthwark\nOctavia Hill" in shown.out
    assert shown.out.count("==> ") == 4


def test_pictures_made_from_photos_are_not_read_as_photos(photos, tmp_path):
    from pipeline.batch import is_made_from_a_photo

    inside = photos / "results"
    run_jobs(
        OCRPipeline(EveryImageOneWord(), Reader()), plan_jobs([photos], inside), visualize=True
    )
    (inside / "a.png.pdf-selection.jpg").write_bytes(b"")
    # Another tool's sidecar JSON does not make its neighbors outputs of this one.
    (photos / "e.jpg.json").write_text('{"title": "e.jpg"}')
    text_image().convert("RGB").save(photos / "e.jpg.edited.jpg")
    assert is_made_from_a_photo(inside / "a.png.overlay.jpg")
    elsewhere = tmp_path / "elsewhere"
    names = [job.photo.relative_to(photos).as_posix() for job in plan_jobs([photos], elsewhere)]
    assert names == ["a.png", "b.png", "c.png", "e.jpg.edited.jpg"]
    demo = [job.photo.name for job in plan_jobs([REPO / "demo"], elsewhere)]
    assert demo == ["blue_plaque.jpg", "book_page.jpg", "curved_sign.jpg", "mall_sign.jpg"]


# ------------------------------------------------------------- every odd file at once


@pytest.mark.slow
def test_a_folder_of_odd_files_writes_every_good_photo_and_names_every_bad_one(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    good = ["plaque.jpg", "deep.png", "clear.png", "tiny.png", "strip.png", "frames.gif"]
    Image.open(REPO / "demo" / "blue_plaque.jpg").save(folder / "plaque.jpg")
    deep = (np.asarray(text_image(), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(deep).save(folder / "deep.png")  # 16-bit
    clear = Image.new("RGBA", (120, 40), (0, 0, 0, 0))
    ImageDraw.Draw(clear).rectangle([20, 10, 100, 30], fill=(0, 0, 0, 255))
    clear.save(folder / "clear.png")  # black on transparent
    Image.new("RGB", (1, 1), "white").save(folder / "tiny.png")
    Image.new("L", (5000, 1), 128).save(folder / "strip.png")
    frames = [text_image().convert("P") for _ in range(3)]
    frames[0].save(folder / "frames.gif", save_all=True, append_images=frames[1:])
    bad = {
        "empty.jpg": "empty",
        "noise.jpg": "not an image",
        "notes.png": "not an image",
        "cut.jpg": "corrupt or truncated",
        "huge.png": "more than the limit",
        "gone.jpg": "broken symbolic link",
        "loop.jpg": "symbolic link loop",
    }
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "notes.png").write_text("not a picture")
    (folder / "cut.jpg").write_bytes((folder / "plaque.jpg").read_bytes()[:2000])
    (folder / "huge.png").write_bytes(png_declaring(20000, 15000))
    (folder / "gone.jpg").symlink_to(folder / "nowhere.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", str(folder), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert sorted(p.name for p in out.glob("*.json")) == sorted(f"{n}.json" for n in good)
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == len(bad)
    for name, reason in bad.items():
        (line,) = [line for line in failed if f"{folder / name}:" in line]
        assert reason in line, line


@pytest.mark.slow
def test_a_photo_reads_the_same_whatever_photos_share_its_batch():
    # Before, a low-confidence word of img_6 read "GHEVERONTE" at 0.016 alone and 0.028 in
    # a batch of six, and crops of others changed text ("chellt" / "chelart").
    from conftest import DATA

    photos = [DATA / "icdar2015_dev_scenes" / "images" / f"img_{i}.jpg" for i in range(1, 7)]
    pipeline = OCRPipeline(min_confidence=0)
    together = pipeline.ocr_batch(photos)
    for photo, batched in zip(photos, together):
        alone = pipeline.ocr(photo)
        assert [w.text for w in alone.words] == [w.text for w in batched.words], photo.name
        for a, b in zip(alone.words, batched.words):
            assert a.confidence == pytest.approx(b.confidence, abs=1e-4)


def test_pictures_made_after_reading_load_the_photo_with_the_pipelines_size_limit(
    photos, tmp_path, monkeypatch
):
    # An overlay (or PDF) loads the photo again: with the limit the pipeline read it with,
    # not the default one (a photo over 150 MP read with a raised limit would fail there).
    import pipeline.batch as batch

    limits = []
    load = batch.load_photo
    monkeypatch.setattr(
        batch, "load_photo", lambda path, max_pixels: limits.append(max_pixels) or load(path)
    )
    pipeline = OCRPipeline(
        EveryImageOneWord(), Reader(), max_pixels=123_456, min_confidence=0, orient_pages=False
    )
    report = run_jobs(pipeline, plan_jobs([photos], tmp_path / "out"), visualize=True)
    assert report.ok and report.read == 3
    assert limits == [123_456] * 3
