"""Rectification: regions of known geometry come back as the upright strip they started as."""

import cv2
import numpy as np
import pytest

from pipeline.rectify import order_quadrilateral, rectify_polygon, split_boundaries

RNG = np.random.default_rng(0)


def _strip(height=40, width=160):
    """A strip with structure along x (so a flipped or rotated result would not match)."""
    strip = RNG.integers(0, 60, (height, width, 3), dtype=np.uint8)
    for x in range(0, width, 16):
        strip[:, x : x + 6 + x // 32] = (230, 200, 40)
    strip[: height // 3] //= 2  # top differs from bottom
    return cv2.GaussianBlur(strip, (3, 3), 0)


def _paste(strip, quad, canvas_size=(400, 400)):
    h, w = strip.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    matrix = cv2.getPerspectiveTransform(src, np.float32(quad))
    return cv2.warpPerspective(strip, matrix, canvas_size, flags=cv2.INTER_CUBIC)


def _similarity(a, b):
    b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    a, b = a.astype(np.float32).ravel(), b.astype(np.float32).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def test_axis_aligned_box_is_cut_out_unchanged():
    strip = _strip()
    canvas = np.zeros((300, 300, 3), np.uint8)
    canvas[50:90, 70:230] = strip
    crop = rectify_polygon(canvas, [70, 50, 230, 50, 230, 90, 70, 90])
    assert crop.image.shape[:2] == (40, 160)
    assert _similarity(strip, crop.image) > 0.98
    assert not crop.vertical


@pytest.mark.parametrize("angle", [-35, -10, 20, 40])
def test_rotated_box_is_turned_upright(angle):
    strip = _strip()
    center = np.array([200.0, 200.0])
    corners = np.float32([[-80, -20], [80, -20], [80, 20], [-80, 20]])
    theta = np.deg2rad(angle)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    quad = corners @ rotation.T + center
    canvas = _paste(strip, quad)
    crop = rectify_polygon(canvas, quad)
    assert abs(crop.image.shape[1] - 160) <= 2 and abs(crop.image.shape[0] - 40) <= 2
    assert _similarity(strip, crop.image) > 0.9


def test_perspective_quadrilateral_is_unwarped_whatever_the_corner_order():
    strip = _strip()
    quad = np.float32([[60, 80], [330, 120], [320, 190], [70, 160]])
    canvas = _paste(strip, quad)
    reference = rectify_polygon(canvas, quad).image
    assert _similarity(strip, reference) > 0.9
    for shift in range(1, 4):
        shuffled = np.roll(quad, shift, axis=0)
        assert np.array_equal(rectify_polygon(canvas, shuffled).image, reference)
    assert np.array_equal(rectify_polygon(canvas, quad[::-1]).image, reference)


def test_order_quadrilateral_starts_top_left_and_runs_clockwise():
    quad = np.float32([[100, 60], [10, 50], [10, 20], [100, 30]])
    ordered = order_quadrilateral(quad)
    assert ordered.tolist() == [[10, 20], [100, 30], [100, 60], [10, 50]]


def _arc_band(strip, center=(250, 320), radius=200, thickness=40, start=200, end=340):
    """The strip bent along an arc (text on the upper half of a circle) and its polygon."""
    h, w = strip.shape[:2]
    canvas_h, canvas_w = 400, 500
    ys, xs = np.mgrid[0:canvas_h, 0:canvas_w].astype(np.float32)
    dx, dy = xs - center[0], ys - center[1]
    angle = (np.degrees(np.arctan2(dy, dx)) + 360) % 360
    distance = np.hypot(dx, dy)
    map_x = (angle - start) / (end - start) * w
    map_y = (radius - distance) / thickness * h
    canvas = cv2.remap(strip, map_x, map_y, cv2.INTER_LINEAR, borderValue=0)
    count = 12
    outer = [
        (center[0] + radius * np.cos(np.radians(a)), center[1] + radius * np.sin(np.radians(a)))
        for a in np.linspace(start, end, count)
    ]
    inner_r = radius - thickness
    inner = [
        (center[0] + inner_r * np.cos(np.radians(a)), center[1] + inner_r * np.sin(np.radians(a)))
        for a in np.linspace(end, start, count)
    ]
    return canvas, np.float32(outer + inner)


def test_curved_band_is_straightened_along_its_center_line():
    strip = _strip(40, 400)
    canvas, polygon = _arc_band(strip)
    crop = rectify_polygon(canvas, polygon)
    height, width = crop.image.shape[:2]
    assert width > 5 * height, "the band must come out long and flat"
    assert _similarity(strip, crop.image) > 0.8
    # A single rotated rectangle around the band mixes background in and scores far worse.
    box = cv2.boxPoints(cv2.minAreaRect(polygon))
    assert _similarity(strip, rectify_polygon(canvas, box).image) < 0.5


def test_boundaries_of_a_curved_polygon_are_top_then_bottom_left_to_right():
    _, polygon = _arc_band(_strip(40, 400))
    top, bottom = split_boundaries(polygon)
    assert top[0][0] < top[-1][0] and bottom[0][0] < bottom[-1][0]
    assert top[:, 1].mean() < bottom[:, 1].mean()


def test_tall_regions_are_flagged_vertical():
    canvas = np.zeros((300, 300, 3), np.uint8)
    crop = rectify_polygon(canvas, [100, 20, 130, 20, 130, 220, 100, 220])
    assert crop.vertical
