"""Recognizers on the ground-truth words of scene photos, cut as the pipeline cuts them.

    python benchmarks/scene_word_crops.py --rapidocr           # val photos: default, RapidOCR
    python benchmarks/scene_word_crops.py \\
        --scenes ../shared/data/icdar2015_dev_scenes/scenes.jsonl --recognizers default runs/x/best

Every readable ground-truth word (not ``###``, some letter or digit) of the photos is cut
with the pipeline's own rectification (``pipeline.core._crop_variants``: a tall word is also
read turned both ways and the most confident reading kept) and read by each recognizer in
turn (a known name or a checkpoint path), in one process. Printed per recognizer: word
accuracy (lowercase alphanumeric, the scoring of ``ocr-pipeline eval``), the same by crop
height (the rectified crop's pixels; ± half the 95% interval of a share of that many
words, 1.96 standard errors: two heights whose intervals overlap are not told apart by these
photos), and crops/s. ``--rapidocr`` adds RapidOCR's own
recognizer (PP-OCR, ONNX Runtime) on the same crops, for reference, and for each of ours two
rows on what reading every crop with both would give: the more confident of the two readings
("X or RapidOCR"), and the share that at least one of them reads right ("X | RapidOCR", an
upper bound no choice between the two can pass).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VAL = REPO.parent / "shared" / "data" / "icdar2015_val_scenes" / "scenes.jsonl"

from pipeline.core import _crop_variants  # noqa: E402
from pipeline.evaluation import read_scenes  # noqa: E402
from pipeline.photos import load_photo  # noqa: E402
from recognizer.metrics import norm_alnum  # noqa: E402

HEIGHT_BINS = ((0, 24, "< 24 px"), (24, 40, "24-40 px"), (40, 10**9, ">= 40 px"))


def ground_truth_words(scenes_file: Path, limit: int | None):
    """(variants, text, height) for each readable ground-truth word."""
    words = []
    for scene in read_scenes(scenes_file, limit):
        image = load_photo(scene["file"])
        for instance in scene["instances"]:
            if instance["ignore"] or not norm_alnum(instance["text"]):
                continue
            polygon = np.asarray(instance["polygon"], np.float32).reshape(-1, 2)
            variants = _crop_variants(image, polygon)
            words.append((variants, instance["text"], variants[0].shape[0]))
    return words


def read_words(read_batch, words) -> tuple[list[tuple[str, float]], float]:
    """The most confident reading (text, confidence) of each word's variants, and the
    seconds it took."""
    crops = [crop for variants, _, _ in words for crop in variants]
    started = time.perf_counter()
    readings = read_batch(crops)
    seconds = time.perf_counter() - started
    best, at = [], 0
    for variants, _, _ in words:
        best.append(max(readings[at : at + len(variants)], key=lambda r: r[1]))
        at += len(variants)
    return best, seconds


def ours(name: str, batch_size: int):
    import recognizer

    model = recognizer.load(name)

    def read_batch(crops):
        return [(r.text, r.confidence) for r in model.read(crops, batch_size=batch_size)]

    return read_batch


def rapidocr_recognizer():
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.use_det": False, "Global.use_cls": False})

    def read_batch(crops):
        readings = []
        for crop in crops:
            result = engine(np.ascontiguousarray(crop[:, :, ::-1]), use_det=False, use_cls=False)
            texts, scores = result.txts or ("",), result.scores or (0.0,)
            readings.append((texts[0], float(scores[0])))
        return readings

    return read_batch


def is_right(texts: list[str], words) -> list[bool]:
    return [norm_alnum(t) == norm_alnum(w[1]) for t, w in zip(texts, words)]


def report(label: str, words, right: list[bool], seconds: float | None) -> None:
    parts = []
    for low, high, name in HEIGHT_BINS:
        chosen = [ok for ok, w in zip(right, words) if low <= w[2] < high]
        if chosen:
            share = float(np.mean(chosen))
            margin = 1.96 * np.sqrt(share * (1 - share) / len(chosen))
            parts.append(f"{name}: {share:.3f} ± {margin:.3f} ({len(chosen)})")
    crops = sum(len(w[0]) for w in words)
    speed = f"{crops / seconds:7.1f} crops/s" if seconds else " " * 15
    print(f"{label:20} {np.mean(right):.4f}  {speed}   " + ", ".join(parts), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, default=VAL, help="scenes.jsonl (default: val)")
    parser.add_argument(
        "--recognizers", nargs="+", default=["default"], help="names or checkpoint paths"
    )
    parser.add_argument("--rapidocr", action="store_true", help="also RapidOCR's recognizer")
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    words = ground_truth_words(args.scenes, args.limit)
    print(f"{args.scenes}: {len(words)} readable ground-truth words")
    print(f"{'recognizer':20} accuracy  speed            by crop height (words)")
    readings = {}
    for name in args.recognizers:
        label = Path(name).name if len(name) > 14 else name
        readings[label], seconds = read_words(ours(name, args.batch_size), words)
        report(label, words, is_right([t for t, _ in readings[label]], words), seconds)
    if not args.rapidocr:
        return
    theirs, seconds = read_words(rapidocr_recognizer(), words)
    right_theirs = is_right([t for t, _ in theirs], words)
    report("RapidOCR", words, right_theirs, seconds)
    for label, mine in readings.items():
        surer = [a if a[1] >= b[1] else b for a, b in zip(mine, theirs)]
        report(f"{label} or RapidOCR", words, is_right([t for t, _ in surer], words), None)
        right_mine = is_right([t for t, _ in mine], words)
        either = [a or b for a, b in zip(right_mine, right_theirs)]
        report(f"{label} | RapidOCR", words, either, None)


if __name__ == "__main__":
    main()
