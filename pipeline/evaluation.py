"""Scoring text detections against ground truth, ICDAR 2015 style.

A detection counts as found text when it overlaps one ground-truth word with IoU at or above
a threshold (0.5), each ground-truth word matched at most once. Ground-truth regions marked
``ignore`` (the "###" don't-care words) are neither found nor missed: detections lying mostly
inside one are dropped before matching, as the ICDAR 2015 challenge does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from shapely.geometry import Polygon

from recognizer.metrics import norm_alnum

PolygonLike = Sequence[float] | np.ndarray  # flat [x1, y1, x2, y2, ...] or (N, 2) points


@dataclass(frozen=True)
class DetectionScore:
    """Counts behind precision, recall and H-mean; add scores to pool images."""

    true_positives: int = 0
    num_detections: int = 0  # detections that were scored (don't-care ones excluded)
    num_ground_truth: int = 0  # ground-truth words that count (don't-care ones excluded)

    @property
    def precision(self) -> float:
        return self.true_positives / self.num_detections if self.num_detections else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.num_ground_truth if self.num_ground_truth else 0.0

    @property
    def hmean(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: DetectionScore) -> DetectionScore:
        return DetectionScore(
            self.true_positives + other.true_positives,
            self.num_detections + other.num_detections,
            self.num_ground_truth + other.num_ground_truth,
        )

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.4f}  recall {self.recall:.4f}  "
            f"hmean {self.hmean:.4f}  ({self.true_positives} matched, "
            f"{self.num_detections} detections, {self.num_ground_truth} words)"
        )


@dataclass(frozen=True)
class DetectionMatch:
    """The outcome of matching one image's detections to its ground truth."""

    pairs: list[tuple[int, int, float]] = field(default_factory=list)  # (det, gt, IoU)
    dropped_detections: list[int] = field(default_factory=list)  # inside don't-care regions
    score: DetectionScore = field(default_factory=DetectionScore)


def to_shapely(polygon: PolygonLike) -> Polygon:
    """A valid shapely polygon from flat or (N, 2) coordinates; self-crossing ones are repaired."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(points) < 3:
        return Polygon()
    shape = Polygon(points)
    if not shape.is_valid:
        shape = shape.buffer(0)  # e.g. a bow-tie quad from annotation noise
    return shape


def polygon_iou(a: PolygonLike, b: PolygonLike) -> float:
    """Intersection over union of two polygons (0 when either has no area)."""
    return _iou(to_shapely(a), to_shapely(b))


def _iou(a: Polygon, b: Polygon) -> float:
    if a.is_empty or b.is_empty or not a.intersects(b):
        return 0.0
    inter = a.intersection(b).area
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def _share_inside(inner: Polygon, outer: Polygon) -> float:
    """How much of ``inner``'s area lies inside ``outer``."""
    if inner.is_empty or inner.area == 0 or not inner.intersects(outer):
        return 0.0
    return inner.intersection(outer).area / inner.area


def match_detections(
    detections: Sequence[PolygonLike],
    ground_truth: Sequence[PolygonLike],
    ignore: Sequence[bool] | None = None,
    iou_threshold: float = 0.5,
    dont_care_overlap: float = 0.5,
) -> DetectionMatch:
    """One-to-one matching of one image's detections to its ground-truth words.

    ``ignore[i]`` marks ground-truth word ``i`` as don't-care. A detection with more than
    ``dont_care_overlap`` of its area inside a don't-care region is dropped (not scored).
    The remaining pairs with IoU >= ``iou_threshold`` are matched greedily from the highest
    IoU down, each detection and each word used once.
    """
    ignore = [False] * len(ground_truth) if ignore is None else list(ignore)
    if len(ignore) != len(ground_truth):
        raise ValueError(f"{len(ignore)} ignore flags for {len(ground_truth)} ground-truth words")
    dets = [to_shapely(p) for p in detections]
    gts = [to_shapely(p) for p in ground_truth]
    cared_gt = [i for i, skip in enumerate(ignore) if not skip]
    dont_care = [gts[i] for i, skip in enumerate(ignore) if skip]

    dropped = _inside_dont_care(dets, dont_care, dont_care_overlap)
    scored = sorted(set(range(len(dets))) - set(dropped))
    candidates = [
        (iou, d, g)
        for d in scored
        for g in cared_gt
        if (iou := _iou(dets[d], gts[g])) >= iou_threshold
    ]
    pairs = _greedy_one_to_one(candidates)
    score = DetectionScore(len(pairs), len(scored), len(cared_gt))
    return DetectionMatch(pairs=pairs, dropped_detections=dropped, score=score)


def _inside_dont_care(dets: list[Polygon], dont_care: list[Polygon], overlap: float) -> list[int]:
    return [
        d
        for d, det in enumerate(dets)
        if any(_share_inside(det, region) > overlap for region in dont_care)
    ]


def _greedy_one_to_one(candidates: list[tuple[float, int, int]]) -> list[tuple[int, int, float]]:
    """Pairs taken from the highest IoU down, each detection and each word used once."""
    used_det: set[int] = set()
    used_gt: set[int] = set()
    pairs = []
    for iou, d, g in sorted(candidates, reverse=True):
        if d not in used_det and g not in used_gt:
            used_det.add(d)
            used_gt.add(g)
            pairs.append((d, g, iou))
    return pairs


def end_to_end_match(
    detections: Sequence[PolygonLike],
    texts: Sequence[str],
    ground_truth: Sequence[PolygonLike],
    truth_texts: Sequence[str],
    ignore: Sequence[bool] | None = None,
    iou_threshold: float = 0.5,
) -> DetectionScore:
    """Words both found (IoU >= threshold) and read right (lowercase alphanumeric).

    Ground-truth words with no alphanumeric character are don't-care, like ``###`` ones.
    """
    ignore = [False] * len(ground_truth) if ignore is None else list(ignore)
    ignore = [skip or not norm_alnum(t) for skip, t in zip(ignore, truth_texts)]
    dets = [to_shapely(p) for p in detections]
    gts = [to_shapely(p) for p in ground_truth]
    dont_care = [gts[g] for g in range(len(gts)) if ignore[g]]
    dropped = set(_inside_dont_care(dets, dont_care, 0.5))
    kept = [d for d in range(len(dets)) if d not in dropped]
    cared = [g for g in range(len(gts)) if not ignore[g]]
    candidates = [
        (iou, d, g)
        for d in kept
        for g in cared
        if norm_alnum(texts[d]) == norm_alnum(truth_texts[g])
        and (iou := _iou(dets[d], gts[g])) >= iou_threshold
    ]
    return DetectionScore(len(_greedy_one_to_one(candidates)), len(kept), len(cared))


@dataclass
class SceneReport:
    detection: DetectionScore = field(default_factory=DetectionScore)
    end_to_end: DetectionScore = field(default_factory=DetectionScore)
    images: int = 0

    def format(self) -> str:
        return f"detection:  {self.detection}\nend-to-end: {self.end_to_end}"


def read_scenes(scenes_file: Path, limit: int | None = None) -> list[dict]:
    """The annotated photos of a ``scenes.jsonl`` file, image paths made absolute."""
    scenes = []
    for line in Path(scenes_file).read_text(encoding="utf-8").splitlines():
        if line.strip():
            scene = json.loads(line)
            scene["file"] = str(Path(scenes_file).parent / scene["file"])
            scenes.append(scene)
    return scenes[:limit] if limit else scenes


def evaluate_scenes(
    pipeline,
    scenes_file: Path,
    limit: int | None = None,
    images_per_batch: int = 4,
    overlap: bool = True,
    on_scene: Callable[[dict, list, list[str]], None] | None = None,
) -> SceneReport:
    """Run ``pipeline`` (an ``OCRPipeline``) on every photo and score words and texts.

    ``on_scene(scene, polygons, texts)``, if given, also gets each photo's ``scenes.jsonl``
    record and the words read in it, in file order (e.g. ``ErrorAnalysis.add_scene``).
    """
    scenes = read_scenes(scenes_file, limit)
    by_file = {scene["file"]: scene for scene in scenes}
    report = SceneReport()
    outcomes = pipeline.ocr_many(list(by_file), images_per_batch=images_per_batch, overlap=overlap)
    for path, result in outcomes:
        if isinstance(result, Exception):
            raise result
        polygons = [np.asarray(w.polygon) for w in result.words]
        texts = [w.text for w in result.words]
        score_scene(report, by_file[path], polygons, texts)
        if on_scene is not None:
            on_scene(by_file[path], polygons, texts)
    return report


def score_scene(report: SceneReport, scene: dict, polygons: list, texts: list[str]) -> None:
    """Add one photo's words (polygons and texts, from any engine) to ``report``."""
    truth = [i["polygon"] for i in scene["instances"]]
    ignore = [i["ignore"] for i in scene["instances"]]
    labels = [i["text"] for i in scene["instances"]]
    report.detection += match_detections(polygons, truth, ignore).score
    report.end_to_end += end_to_end_match(polygons, texts, truth, labels, ignore)
    report.images += 1
