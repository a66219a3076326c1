"""ICDAR 2015-style detection scoring (pipeline.evaluation) on polygons with known answers."""

import numpy as np
import pytest

from pipeline.evaluation import DetectionScore, match_detections, polygon_iou


def box(x0, y0, x1, y1):
    """A flat clockwise quadrilateral, as scenes.jsonl stores polygons."""
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def test_iou_of_identical_disjoint_and_half_overlapping_boxes():
    assert polygon_iou(box(0, 0, 10, 10), box(0, 0, 10, 10)) == pytest.approx(1.0)
    assert polygon_iou(box(0, 0, 10, 10), box(20, 0, 30, 10)) == 0.0
    # Overlap 5x10 = 50, union 150.
    assert polygon_iou(box(0, 0, 10, 10), box(5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_iou_accepts_point_arrays_and_rotated_quads():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=np.float32)
    diamond = [5, -5, 15, 5, 5, 15, -5, 5]  # the square rotated 45 degrees about (5, 5)
    # Square area 100, diamond area 200, the square lies inside the diamond.
    assert polygon_iou(square, diamond) == pytest.approx(0.5)


def test_self_crossing_quad_does_not_crash():
    bow_tie = [0, 0, 10, 10, 10, 0, 0, 10]
    assert 0.0 <= polygon_iou(bow_tie, box(0, 0, 10, 10)) <= 1.0


def test_iou_threshold_is_inclusive():
    gt = [box(0, 0, 10, 10)]
    exactly_half = [box(0, 0, 10, 5)]  # IoU 50 / 100
    assert match_detections(exactly_half, gt).score.true_positives == 1
    assert match_detections([box(0, 0, 10, 4)], gt).score.true_positives == 0


def test_matching_is_one_to_one_and_prefers_the_best_pairs():
    gt = [box(0, 0, 10, 10), box(12, 0, 22, 10)]
    dets = [box(1, 0, 11, 10), box(0, 0, 10, 10), box(12, 0, 22, 10)]
    match = match_detections(dets, gt)
    assert sorted((d, g) for d, g, _ in match.pairs) == [(1, 0), (2, 1)]
    assert match.score == DetectionScore(true_positives=2, num_detections=3, num_ground_truth=2)
    assert match.score.precision == pytest.approx(2 / 3)
    assert match.score.recall == pytest.approx(1.0)
    assert match.score.hmean == pytest.approx(0.8)


def test_detections_of_dont_care_regions_are_dropped_not_counted():
    gt = [box(0, 0, 10, 10), box(50, 50, 70, 60)]
    ignore = [False, True]
    dets = [
        box(0, 0, 10, 10),  # matches the word
        box(52, 50, 70, 60),  # inside the "###" region: dropped
        box(65, 50, 85, 60),  # only a quarter inside it: a false positive
    ]
    match = match_detections(dets, gt, ignore)
    assert match.dropped_detections == [1]
    # The don't-care word is neither found nor missed.
    assert match.score == DetectionScore(true_positives=1, num_detections=2, num_ground_truth=1)


def test_an_image_without_words_or_detections_scores_zero_without_dividing_by_zero():
    empty = match_detections([], [])
    assert empty.score == DetectionScore()
    assert (empty.score.precision, empty.score.recall, empty.score.hmean) == (0.0, 0.0, 0.0)


def test_scores_pool_over_images():
    total = DetectionScore(3, 4, 5) + DetectionScore(1, 2, 3)
    assert total == DetectionScore(4, 6, 8)
    assert total.hmean == pytest.approx(2 * (4 / 6) * (4 / 8) / (4 / 6 + 4 / 8))


def test_ignore_flags_must_match_ground_truth():
    with pytest.raises(ValueError, match="ignore flags"):
        match_detections([], [box(0, 0, 1, 1)], ignore=[])
