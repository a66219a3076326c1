"""Measure the shipped default models and record the figures next to their weights.

    python benchmarks/measure_default_models.py            # print and write measured.json
    python benchmarks/measure_default_models.py --check    # print, compare, write nothing

Figures: word accuracy of ``recognizer.load("default")`` on IIIT5K test (3000 crops), and
detection / end-to-end word H-mean of ``OCRPipeline()`` on the 100 ICDAR 2015 photos of
``../shared/data/icdar2015_dev_scenes``. They go to ``recognizer/weights/default/
measured.json``, which ``tests/test_default_models.py`` checks against a fresh measurement
and against the README and model card. Run it after exporting new default weights.

Besides the whole sets it records the same figures on fixed samples (the first
``SAMPLE_CROPS`` crops and ``SAMPLE_PHOTOS`` photos): the test suite re-measures those, in
seconds, instead of the whole sets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WEIGHTS = REPO / "recognizer" / "weights" / "default"
DATA = REPO.parent / "shared" / "data"
SAMPLE_CROPS = 300
SAMPLE_PHOTOS = 20


def measure_recognizer(data: Path, limit: int | None = None) -> dict:
    import recognizer
    from recognizer.__main__ import evaluate_folder

    accuracy, speed = evaluate_folder(recognizer.load("default"), data, limit=limit)
    return {
        "crops": accuracy.total,
        "alnum": round(accuracy.alnum, 4),
        "case_sensitive": round(accuracy.exact, 4),
        "crops_per_second": round(speed, 1),
    }


def measure_pipeline(scenes: Path, limit: int | None = None) -> dict:
    from pipeline import OCRPipeline
    from pipeline.evaluation import evaluate_scenes

    pipeline = OCRPipeline()
    started = time.perf_counter()
    report = evaluate_scenes(pipeline, scenes, limit=limit)
    elapsed = time.perf_counter() - started
    return {
        "images": report.images,
        "detection_hmean": round(report.detection.hmean, 4),
        "end_to_end_hmean": round(report.end_to_end.hmean, 4),
        "end_to_end_precision": round(report.end_to_end.precision, 4),
        "end_to_end_recall": round(report.end_to_end.recall, 4),
        "images_per_second": round(report.images / elapsed, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    args = parser.parse_args()
    crops, scenes = args.data / "iiit5k_test", args.data / "icdar2015_dev_scenes/scenes.jsonl"
    figures = {
        "iiit5k_test": measure_recognizer(crops),
        "icdar2015_dev_scenes": measure_pipeline(scenes),
        "samples": {
            "iiit5k_test": measure_recognizer(crops, SAMPLE_CROPS),
            "icdar2015_dev_scenes": measure_pipeline(scenes, SAMPLE_PHOTOS),
        },
    }
    print(json.dumps(figures, indent=2))
    target = WEIGHTS / "measured.json"
    if args.check:
        stated = json.loads(target.read_text())
        for group, values in figures.items():
            for key, value in values.items():
                if "per_second" not in key and not isinstance(value, dict):
                    print(f"{group}.{key}: stated {stated[group][key]}, measured {value}")
        return 0
    target.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
