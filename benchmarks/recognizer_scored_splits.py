"""Cutting word boxes further where the recognizer is more sure of the pieces: measured.

    python benchmarks/recognizer_scored_splits.py ../shared/data/icdar2015_dev_scenes/scenes.jsonl
    python benchmarks/recognizer_scored_splits.py SCENES --setting 0.1:0 --setting 0.05:1.5

Words merged with a neighbor in one box are the largest loss of the default pipeline
(``ocr-pipeline eval --explain``). This measures one remedy, not yet part of the pipeline:
each box the pipeline reads is cut again at finer ink gaps (``WordSplitter`` with a smaller
``min_gap`` / ``relative_gap``, given as ``MIN_GAP:RELATIVE_GAP``), the pieces are read, and
the pieces replace the box when the product of their confidences beats the box's own
confidence. Printed per setting: detection and end-to-end H-mean (the scoring of
``ocr-pipeline eval``, default confidence cut-off), against the pipeline as it is.

Measured (default models, cut-off 0.4): on the dev photos, 0.1:0 was the best of four
settings (0.05 and 0.1 x 0 and 1.5): detection 0.674 -> 0.739, end to end 0.533 -> 0.580;
on the validation photos, measured once for that setting: detection 0.593 -> 0.620, end to
end 0.453 -> 0.450. The end-to-end gain does not carry over, so it is not in the pipeline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline import OCRPipeline  # noqa: E402
from pipeline.core import _crop_variants  # noqa: E402
from pipeline.evaluation import SceneReport, read_scenes, score_scene  # noqa: E402
from pipeline.spec import DEFAULT_MIN_CONFIDENCE  # noqa: E402
from pipeline.word_splitting import WordSplitter  # noqa: E402


def read_best(pipeline: OCRPipeline, image: np.ndarray, polygons: list) -> list:
    """The most confident reading of each region, as the pipeline reads it."""
    crops, owners = [], []
    for i, polygon in enumerate(polygons):
        for variant in _crop_variants(image, polygon):
            crops.append(variant)
            owners.append(i)
    best = {}
    readings = pipeline.recognizer.read(crops, batch_size=pipeline.batch_size) if crops else []
    for owner, reading in zip(owners, readings):
        if owner not in best or reading.confidence > best[owner].confidence:
            best[owner] = reading
    return [best[i] for i in range(len(polygons))]


def cut_where_surer(pipeline, image, gray, boxes, readings, splitter, max_pieces=6) -> list:
    """(polygon, reading) per word: each box, or its pieces when they read more surely."""
    words = []
    for polygon, reading in zip(boxes, readings):
        pieces = splitter.split(polygon, gray)
        if 2 <= len(pieces) <= max_pieces:
            piece_readings = read_best(pipeline, image, pieces)
            if np.prod([r.confidence for r in piece_readings]) > reading.confidence:
                words.extend(zip(pieces, piece_readings))
                continue
        words.append((polygon, reading))
    return words


def add_scene(report: SceneReport, scene: dict, words: list, cut_off: float) -> None:
    kept = [(p, r) for p, r in words if r.text and r.confidence >= cut_off]
    score_scene(report, scene, [np.asarray(p) for p, _ in kept], [r.text for _, r in kept])


def setting(text: str) -> tuple[float, float]:
    min_gap, relative_gap = text.split(":")
    return float(min_gap), float(relative_gap)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenes", type=Path)
    parser.add_argument("--setting", type=setting, action="append", metavar="MIN_GAP:RELATIVE")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    settings = args.setting or [(0.05, 0.0), (0.05, 1.5), (0.1, 0.0), (0.1, 1.5)]
    splitters = [WordSplitter(min_gap=g, relative_gap=r) for g, r in settings]
    pipeline = OCRPipeline(orient_pages=False)
    cut_off = DEFAULT_MIN_CONFIDENCE
    scenes = read_scenes(args.scenes, args.limit)
    as_is = SceneReport()
    cut = [SceneReport() for _ in splitters]
    for start in range(0, len(scenes), 4):
        group = scenes[start : start + 4]
        chunk = pipeline.detect_chunk([scene["file"] for scene in group])
        for scene, page in zip(group, chunk.pages):
            gray = cv2.cvtColor(page.image, cv2.COLOR_RGB2GRAY)
            boxes = [d.polygon for d in page.detections]
            readings = read_best(pipeline, page.image, boxes)
            add_scene(as_is, scene, list(zip(boxes, readings)), cut_off)
            for report, splitter in zip(cut, splitters):
                words = cut_where_surer(pipeline, page.image, gray, boxes, readings, splitter)
                add_scene(report, scene, words, cut_off)
    print(f"{len(scenes)} photos, confidence cut-off {cut_off}")
    print(f"{'setting':<22}{'detection H':>12}{'end-to-end H':>14}")
    print(f"{'as is':<22}{as_is.detection.hmean:>12.4f}{as_is.end_to_end.hmean:>14.4f}")
    for (min_gap, relative_gap), report in zip(settings, cut):
        label = f"min_gap {min_gap}, rel {relative_gap}"
        print(f"{label:<22}{report.detection.hmean:>12.4f}{report.end_to_end.hmean:>14.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
