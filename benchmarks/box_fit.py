"""How closely the pipeline's word boxes fit the ground-truth words, end by end.

    python benchmarks/box_fit.py                           # ICDAR 2015 dev photos
    python benchmarks/box_fit.py --scenes ../shared/data/icdar2015_val_scenes/scenes.jsonl
    python benchmarks/box_fit.py --detector default-ink    # any detector name or config

The pipeline reads each photo as ``ocr-pipeline eval`` does (same models and cut-off). Each
readable ground-truth word (not ``###``, some letter or digit) is paired with the word box
of largest IoU, if that is at least 0.3 (below, the box is not this word's: see
``ocr-pipeline eval --explain`` for what became of the others). In the word's own frame
(its reading direction, from the ICDAR point order, and across it), four margins of the box
are measured in units of the word's height: how far the box reaches before the word's
first letter (``lead``), past its last letter (``tail``), above and below it. A negative
margin is a box that ends inside the word: letters, or parts of them, are cut off.

Printed: the number of words paired; the median and the 10th percentile of each margin;
the share of words whose box falls short of the word by more than ``--short`` heights
(default 0.2, about a third of a letter) at the start, the end, the top or the bottom; and
the same split by whether the word was read right (lowercase alphanumeric).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SCENES = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "scenes.jsonl"

from pipeline.error_analysis import reading_direction  # noqa: E402
from pipeline.evaluation import polygon_iou, to_shapely  # noqa: E402
from recognizer.metrics import norm_alnum  # noqa: E402

PAIRED_IOU = 0.3
SIDES = ("lead", "tail", "top", "bottom")


@dataclass(frozen=True)
class Fit:
    """The margins of one word's box (word heights; negative: the box ends inside)."""

    lead: float
    tail: float
    top: float
    bottom: float
    iou: float
    read_right: bool


def margins(word_polygon, box_polygon) -> tuple[float, float, float, float]:
    """``(lead, tail, top, bottom)`` of a box around a word, in the word's heights."""
    word = np.asarray(word_polygon, dtype=np.float64).reshape(-1, 2)
    box = np.asarray(box_polygon, dtype=np.float64).reshape(-1, 2)
    along = reading_direction(word, to_shapely(word))
    across = np.array([-along[1], along[0]])  # downwards for text read left to right
    word_along, box_along = word @ along, box @ along
    word_across, box_across = word @ across, box @ across
    height = float(word_across.max() - word_across.min())
    if height <= 0:
        raise ValueError("a ground-truth word of zero height")
    return (
        float(word_along.min() - box_along.min()) / height,
        float(box_along.max() - word_along.max()) / height,
        float(word_across.min() - box_across.min()) / height,
        float(box_across.max() - word_across.max()) / height,
    )


def fits_of_scene(scene: dict, polygons: list, texts: list[str]) -> list[Fit]:
    """The fit of each readable ground-truth word of one photo that a box pairs with."""
    fits = []
    for instance in scene["instances"]:
        truth = norm_alnum(instance["text"])
        if instance["ignore"] or not truth:
            continue
        ious = [polygon_iou(instance["polygon"], polygon) for polygon in polygons]
        if not ious or max(ious) < PAIRED_IOU:
            continue
        best = int(np.argmax(ious))
        lead, tail, top, bottom = margins(instance["polygon"], polygons[best])
        right = norm_alnum(texts[best]) == truth
        fits.append(Fit(lead, tail, top, bottom, ious[best], right))
    return fits


def summary(fits: list[Fit], short: float) -> list[str]:
    """Printed rows: per margin its median and 10th percentile, and the share short."""
    if not fits:
        return ["no word paired with a box"]
    rows = [f"{'margin':8} {'median':>7} {'10th pct':>8} {'short by > ' + str(short):>14}"]
    for side in SIDES:
        values = np.array([getattr(f, side) for f in fits])
        share = float((values < -short).mean())
        rows.append(
            f"{side:8} {np.median(values):7.2f} {np.percentile(values, 10):8.2f} "
            f"{share:13.1%} ({int((values < -short).sum())})"
        )
    rows.append(f"start or end short: {_short_at_an_end(fits, short)}")
    for right, label in ((True, "read right"), (False, "read wrong")):
        group = [f for f in fits if f.read_right == right]
        if group:
            rows.append(f"  of the words {label}: {_short_at_an_end(group, short)}")
    return rows


def _short_at_an_end(fits: list[Fit], short: float) -> str:
    count = sum(min(f.lead, f.tail) < -short for f in fits)
    return f"{count / len(fits):.1%} ({count} of {len(fits)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, default=SCENES)
    parser.add_argument("--detector", default=None, help="a detector name or config")
    parser.add_argument("--limit", type=int, default=None, help="the first N photos")
    parser.add_argument("--short", type=float, default=0.2, help="word heights (default 0.2)")
    args = parser.parse_args(argv)

    from pipeline.cli import eval_pipeline
    from pipeline.evaluation import evaluate_scenes

    pipeline = eval_pipeline(args.scenes, ["--detector", args.detector] if args.detector else [])
    fits: list[Fit] = []

    def on_scene(scene, polygons, texts):
        fits.extend(fits_of_scene(scene, polygons, texts))

    report = evaluate_scenes(pipeline, args.scenes, limit=args.limit, on_scene=on_scene)
    print(report.format())
    print(f"words paired with a box (IoU >= {PAIRED_IOU}): {len(fits)}")
    print("\n".join(summary(fits, args.short)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
