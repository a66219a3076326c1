"""Where the pipeline's time goes, stage by stage, beside RapidOCR's stages on the same photos.

    python benchmarks/stage_times.py                 # the first 20 ICDAR 2015 dev photos
    python benchmarks/stage_times.py --limit 100 --threads 2

The default pipeline reads the photos one at a time, without the background detection thread,
so that the stages do not overlap; each stage is timed around its own call:

- detector network: the PP-OCR detection model in ONNX Runtime (``PPOCRDBDetector._forward``);
- line reader: cutting lines into words (``PPOCRDBDetector._split_into_words``);
- rest of detection: MMOCR's data pipeline, DB post-processing, the inferencer's packing;
- recognizer: ``Recognizer.read`` on the word crops;
- rest: decoding the photo, cutting and straightening crops, building the result.

RapidOCR's own timings (``elapse_list``: detection, its direction classifier, recognition)
come from its result objects, for the same photos and threads. Printed: seconds per photo and
share of the total for each stage, and the ratio of each engine's total to RapidOCR's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SCENES = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "scenes.jsonl"

from pipeline.evaluation import read_scenes  # noqa: E402


def timed(owner, name: str, totals: dict, label: str) -> None:
    """Replace ``owner.name`` by a wrapper that adds its wall time to ``totals[label]``."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def time_ours(files: list[str]) -> dict[str, float]:
    from pipeline import OCRPipeline

    pipeline = OCRPipeline()
    pipeline.ocr(files[0])  # model loading and first-run allocations are not timed
    model = pipeline.detector._inferencer.model
    totals: dict[str, float] = defaultdict(float)
    timed(model, "_forward", totals, "detector network")
    timed(model, "_split_into_words", totals, "line reader")
    timed(pipeline.detector, "detect", totals, "detection")
    timed(pipeline.recognizer, "read", totals, "recognizer")
    started = time.perf_counter()
    for file in files:
        pipeline.ocr(file)
    total = time.perf_counter() - started
    stages = {
        "detector network": totals["detector network"],
        "line reader": totals["line reader"],
        "rest of detection": totals["detection"]
        - totals["detector network"]
        - totals["line reader"],
        "recognizer": totals["recognizer"],
    }
    stages["rest"] = total - sum(stages.values())
    return stages


def time_rapidocr(files: list[str], threads: int) -> dict[str, float]:
    from pipeline_speed import rapidocr_engine  # this script's neighbour in benchmarks/

    engine = rapidocr_engine(threads)
    engine(files[0], return_word_box=True)
    stages = dict.fromkeys(("detector network", "direction classifier", "recognizer"), 0.0)
    started = time.perf_counter()
    for file in files:
        elapsed = engine(file, return_word_box=True).elapse_list
        for stage, seconds in zip(stages, elapsed):
            stages[stage] += seconds or 0.0
    stages["rest"] = time.perf_counter() - started - sum(stages.values())
    return stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, default=SCENES)
    parser.add_argument("--limit", type=int, default=20, help="the first N photos (20)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.limit < 1:
        parser.error(f"--limit {args.limit}: give the number of photos to read, 1 or more")
    if not args.scenes.is_file():
        parser.error(f"{args.scenes}: no such file (a scenes.jsonl, as in ../shared/data)")
    import torch

    torch.set_num_threads(args.threads)
    files = [scene["file"] for scene in read_scenes(args.scenes, args.limit)]
    runs = {"RapidOCR": time_rapidocr(files, args.threads), "ours": time_ours(files)}
    baseline = sum(runs["RapidOCR"].values())
    print(f"\n{len(files)} photos, {args.threads} threads, photos read one at a time")
    for engine, stages in runs.items():
        total = sum(stages.values())
        print(f"\n{engine}: {total / len(files):.3f} s/photo ({total / baseline:.2f}x RapidOCR's)")
        for stage, seconds in stages.items():
            print(f"  {stage:22} {seconds / len(files):7.3f} s/photo {seconds / total:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
