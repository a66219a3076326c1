"""Scoring text detections against ground truth, ICDAR 2015 style.

A detection counts as found text when it overlaps one ground-truth word with IoU at or above
a threshold (0.5), each ground-truth word matched at most once. Ground-truth regions marked
``ignore`` (the "###" don't-care words) are neither found nor missed: detections lying mostly
inside one are dropped before matching, as the ICDAR 2015 challenge does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Polygon

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

    dropped = [
        d
        for d, det in enumerate(dets)
        if any(_share_inside(det, region) > dont_care_overlap for region in dont_care)
    ]
    scored = sorted(set(range(len(dets))) - set(dropped))

    candidates = sorted(
        (
            (iou, d, g)
            for d in scored
            for g in cared_gt
            if (iou := _iou(dets[d], gts[g])) >= iou_threshold
        ),
        reverse=True,
    )
    used_det: set[int] = set()
    used_gt: set[int] = set()
    pairs = []
    for iou, d, g in candidates:
        if d in used_det or g in used_gt:
            continue
        used_det.add(d)
        used_gt.add(g)
        pairs.append((d, g, iou))
    score = DetectionScore(len(pairs), len(scored), len(cared_gt))
    return DetectionMatch(pairs=pairs, dropped_detections=dropped, score=score)
