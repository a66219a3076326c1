"""Precision, recall and H-mean of an MMOCR text detector config on annotated photos.

Runs ``MMOCRInferencer(det=<config>)`` on every photo of a scenes folder (``scenes.jsonl``:
one ``{"file", "instances": [{"polygon", "text", "ignore"}]}`` per line) and scores the
polygons ICDAR 2015 style (see :mod:`pipeline.evaluation`)::

    python detector_configs/eval_detection.py detector_configs/default.py
    python detector_configs/eval_detection.py detector_configs/default.py \\
        --cfg-options model.word_splitter=None          # raw line boxes
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", default=str(REPO / "detector_configs/default.py"))
    parser.add_argument("--weights", default=None, help="checkpoint (default: none loaded)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with scenes.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N photos")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU needed for a match")
    parser.add_argument("--device", default=None, help="torch device (default: MMOCR's choice)")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        default={},
        help="override config values, e.g. model.postprocessor.min_text_score=0.6",
    )
    return parser.parse_args(argv)


def load_scenes(folder: Path, limit: int | None = None) -> list[dict]:
    lines = (folder / "scenes.jsonl").read_text().splitlines()
    scenes = [json.loads(line) for line in lines if line.strip()]
    return scenes[:limit] if limit is not None else scenes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pipeline.openmmlab import apply_openmmlab_workarounds

    apply_openmmlab_workarounds()
    from mmengine.config import Config
    from mmocr.apis import MMOCRInferencer

    from pipeline.evaluation import DetectionScore, match_detections

    config = Config.fromfile(args.config)
    config.merge_from_dict(args.cfg_options)
    detector = MMOCRInferencer(det=config, det_weights=args.weights, device=args.device)
    scenes = load_scenes(args.data, args.limit)

    total = DetectionScore()
    seconds = 0.0
    for scene in scenes:
        start = time.perf_counter()
        result = detector(str(args.data / scene["file"]), out_dir="")
        seconds += time.perf_counter() - start
        polygons = result["predictions"][0]["det_polygons"]
        instances = scene["instances"]
        total += match_detections(
            polygons,
            [item["polygon"] for item in instances],
            [item["ignore"] for item in instances],
            iou_threshold=args.iou,
        ).score

    overrides = " ".join(f"{key}={value}" for key, value in args.cfg_options.items())
    print(f"config {args.config} {overrides}".rstrip())
    print(f"{len(scenes)} photos, IoU >= {args.iou}: {total}")
    print(f"detection {seconds / max(1, len(scenes)):.3f} s/image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
