"""Cutting each detected text region out of the photo as an upright, horizontal crop.

Quadrilaterals are unwarped with one perspective transform. Longer polygons (curved text)
are split into a top and a bottom boundary, both resampled to the same number of points,
and every slice between consecutive point pairs is unwarped on its own; the slices are laid
side by side, which straightens text along its center line.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Polygon = np.ndarray  # (N, 2) float32 points in image pixels, N >= 4
# A region this many times taller than wide may hold vertical text (``Crop.vertical``).
TALL_RATIO = 1.5


@dataclass(frozen=True)
class Crop:
    image: np.ndarray  # HxWx3 RGB uint8
    # True when the region is taller than wide: its text may run vertically, so the
    # recognizer also reads the crop turned by 90 degrees either way.
    vertical: bool


def as_polygon(points) -> Polygon:
    """``[x1, y1, x2, y2, ...]`` or ``[[x, y], ...]`` as an ``(N, 2)`` float32 array."""
    polygon = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    if len(polygon) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(polygon)}")
    return polygon


def order_quadrilateral(quad: Polygon) -> Polygon:
    """Corners as top-left, top-right, bottom-right, bottom-left (clockwise in image space).

    The top edge is the one that points most nearly rightwards, so a box turned by less than
    45 degrees comes out upright; a box standing on its short side stays tall (and is then
    read in both 90-degree turns as well, see ``Crop.vertical``).
    """
    quad = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    center = quad.mean(0)
    angles = np.arctan2(quad[:, 1] - center[1], quad[:, 0] - center[0])
    quad = quad[np.argsort(angles)]  # clockwise in image coordinates (y down)
    edges = np.roll(quad, -1, axis=0) - quad
    rightwards = edges[:, 0] / (np.linalg.norm(edges, axis=1) + 1e-6)
    return np.roll(quad, -int(np.argmax(rightwards)), axis=0)


def _edge_lengths(quad: Polygon) -> tuple[int, int]:
    width = max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3]))
    height = max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1]))
    return max(int(round(width)), 1), max(int(round(height)), 1)


def warp_quadrilateral(image: np.ndarray, quad: Polygon, size: tuple[int, int] | None = None):
    """The quadrilateral (TL, TR, BR, BL) mapped onto an upright ``(width, height)`` rectangle."""
    width, height = size or _edge_lengths(quad)
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(np.float32(quad), target)
    return cv2.warpPerspective(
        image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def _end_edges(polygon: Polygon) -> tuple[int, int]:
    """Indices k of the two edges (point k to k+1) that cap the ends of a text band.

    Walking along the outline, the direction reverses at each end of the band: the edges
    before and after a cap edge point in nearly opposite directions. Short edges win ties,
    and the second cap must lie across the outline from the first.
    """
    n = len(polygon)
    edges = np.roll(polygon, -1, axis=0) - polygon
    lengths = np.linalg.norm(edges, axis=1) + 1e-6
    unit = edges / lengths[:, None]
    turn = -(np.roll(unit, 1, axis=0) * np.roll(unit, -1, axis=0)).sum(1)  # 1 = U-turn
    score = turn - 0.5 * lengths / lengths.sum()
    first = int(np.argmax(score))
    distance = np.minimum((np.arange(n) - first) % n, (first - np.arange(n)) % n)
    score = np.where(distance >= max(n // 4, 1), score, -np.inf)
    return first, int(np.argmax(score))


def split_boundaries(polygon: Polygon) -> tuple[Polygon, Polygon]:
    """Top and bottom boundary of a text polygon, both running left to right."""
    n = len(polygon)
    a, b = _end_edges(polygon)
    chain_a = np.float32([polygon[(a + 1 + i) % n] for i in range((b - a) % n)])
    chain_b = np.float32([polygon[(b + 1 + i) % n] for i in range((a - b) % n)])[::-1]
    # Both chains now run from the cap at edge a to the cap at edge b.
    return orient_boundaries(chain_a, chain_b)


def orient_boundaries(chain_a: Polygon, chain_b: Polygon) -> tuple[Polygon, Polygon]:
    """Two boundaries of a text band, both running from one end to the other, as (top,
    bottom), both left to right."""
    if chain_a[-1][0] - chain_a[0][0] + chain_b[-1][0] - chain_b[0][0] < 0:
        chain_a, chain_b = chain_a[::-1], chain_b[::-1]
    direction = (chain_a[-1] + chain_b[-1]) - (chain_a[0] + chain_b[0])
    normal = np.array([-direction[1], direction[0]])  # points "down" in image space
    if (chain_a @ normal).mean() > (chain_b @ normal).mean():
        chain_a, chain_b = chain_b, chain_a
    return chain_a, chain_b


def resample(chain: Polygon, count: int) -> Polygon:
    """``count`` points evenly spaced along a polyline."""
    steps = np.linalg.norm(np.diff(chain, axis=0), axis=1)
    position = np.concatenate([[0.0], np.cumsum(steps)])
    if position[-1] == 0:
        return np.repeat(chain[:1], count, axis=0)
    targets = np.linspace(0.0, position[-1], count)
    xs = np.interp(targets, position, chain[:, 0])
    ys = np.interp(targets, position, chain[:, 1])
    return np.stack([xs, ys], 1).astype(np.float32)


def unwarp_curved(image: np.ndarray, polygon: Polygon, slices: int = 8) -> np.ndarray:
    """Straighten curved text slice by slice along its center line."""
    top, bottom = split_boundaries(polygon)
    top, bottom = resample(top, slices + 1), resample(bottom, slices + 1)
    height = int(round(np.mean(np.linalg.norm(top - bottom, axis=1))))
    height = max(height, 1)
    pieces = []
    for i in range(slices):
        quad = np.float32([top[i], top[i + 1], bottom[i + 1], bottom[i]])
        width = int(
            round(
                (np.linalg.norm(top[i + 1] - top[i]) + np.linalg.norm(bottom[i + 1] - bottom[i]))
                / 2
            )
        )
        if width >= 1:
            pieces.append(warp_quadrilateral(image, quad, (width, height)))
    if not pieces:
        return warp_quadrilateral(image, order_quadrilateral(_min_area_quad(polygon)))
    return np.concatenate(pieces, axis=1)


def _min_area_quad(polygon: Polygon) -> Polygon:
    return cv2.boxPoints(cv2.minAreaRect(np.float32(polygon))).astype(np.float32)


def rectify_polygon(image: np.ndarray, points, curved_min_points: int = 6) -> Crop:
    """An upright crop of the region ``points`` in ``image`` (HxWx3 RGB)."""
    polygon = as_polygon(points)
    if len(polygon) >= curved_min_points and _is_curved(polygon):
        crop = unwarp_curved(image, polygon)
    else:
        quad = polygon if len(polygon) == 4 else _min_area_quad(polygon)
        crop = warp_quadrilateral(image, order_quadrilateral(quad))
    height, width = crop.shape[:2]
    return Crop(crop, vertical=height > TALL_RATIO * width)


def stands_upright(points) -> bool:
    """Whether a region is much taller than wide once upright (``Crop.vertical``), from its
    polygon alone, without cutting it out (a curved one by its minimum-area rectangle)."""
    polygon = as_polygon(points)
    quad = polygon if len(polygon) == 4 else _min_area_quad(polygon)
    width, height = _edge_lengths(order_quadrilateral(quad))
    return height > TALL_RATIO * width


def _is_curved(polygon: Polygon) -> bool:
    """Whether the polygon fills its minimum-area rectangle badly (a bent band does)."""
    rect_area = cv2.contourArea(_min_area_quad(polygon))
    if rect_area <= 0:
        return False
    return cv2.contourArea(np.float32(polygon)) / rect_area < 0.85
