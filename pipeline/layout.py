"""Grouping words into lines, lines into reading order, and lines into blocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .rectify import order_quadrilateral


@dataclass(frozen=True)
class Box:
    """What line grouping needs of a word: its polygon and its position in the input list."""

    index: int
    polygon: np.ndarray  # (N, 2)

    @property
    def center(self) -> np.ndarray:
        return self.polygon.mean(0)

    @property
    def top(self) -> float:
        return float(self.polygon[:, 1].min())

    @property
    def bottom(self) -> float:
        return float(self.polygon[:, 1].max())

    @property
    def left(self) -> float:
        return float(self.polygon[:, 0].min())

    @property
    def right(self) -> float:
        return float(self.polygon[:, 0].max())

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1.0)


def _vertical_overlap(a: Box, b: Box) -> float:
    """Overlap of the two vertical extents, as a fraction of the smaller height."""
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return max(overlap, 0.0) / min(a.height, b.height)


def _same_line(line: list[Box], word: Box, min_overlap: float, max_gap: float) -> bool:
    last = max(line, key=lambda b: b.right)
    if _vertical_overlap(last, word) < min_overlap:
        return False
    gap = word.left - last.right
    return gap <= max_gap * max(last.height, word.height)


def group_into_lines(
    polygons: list[np.ndarray],
    min_overlap: float = 0.5,
    max_gap: float = 2.5,
    min_tilt_degrees: float = 3.0,
) -> list[list[int]]:
    """Indices of ``polygons`` grouped into lines, lines in reading order.

    Words are taken left to right; a word joins a line when it overlaps that line's last
    word vertically by ``min_overlap`` of the smaller height and starts at most ``max_gap``
    word heights after it. Lines are then ordered top to bottom (by their vertical center),
    and lines side by side (columns) left to right when they share a band.

    On a tilted page (the words' typical direction, ``text_direction``, at least
    ``min_tilt_degrees`` off the horizontal) this is done in the page's own frame: the
    words are turned level first, so the lines of a page photographed at an angle are not
    scrambled into pieces.
    """
    points = [np.asarray(p, dtype=np.float32).reshape(-1, 2) for p in polygons]
    angle = text_direction(points)
    if abs(angle) >= min_tilt_degrees:
        turn = cv2.getRotationMatrix2D((0.0, 0.0), -angle, 1.0)[:, :2].astype(np.float32)
        points = [p @ turn.T for p in points]
    boxes = sorted((Box(i, p) for i, p in enumerate(points)), key=lambda b: b.left)
    lines: list[list[Box]] = []
    for word in boxes:
        candidates = [line for line in lines if _same_line(line, word, min_overlap, max_gap)]
        if candidates:
            best = max(candidates, key=lambda line: _vertical_overlap(line[-1], word))
            best.append(word)
        else:
            lines.append([word])
    return [[b.index for b in line] for line in order_lines(lines)]


def text_direction(polygons: Sequence[np.ndarray]) -> float:
    """The typical angle of the words' baselines, in degrees (positive: rising to the
    right, as image y grows downwards), from the words that run sideways; 0 without any.

    Each word's direction is its top edge (first to second point: polygons run clockwise
    from the text's top-left corner); the median, weighted by length, resists a few words
    set at other angles.
    """
    angles, weights = [], []
    for polygon in polygons:
        if len(polygon) != 4:
            continue
        along = polygon[1] - polygon[0]
        down = polygon[3] - polygon[0]
        length = float(np.hypot(*along))
        if length <= float(np.hypot(*down)):  # a vertical or square word says nothing
            continue
        angle = float(np.degrees(np.arctan2(-along[1], along[0])))
        if abs(angle) < 45.0:
            angles.append(angle)
            weights.append(length)
    if not angles:
        return 0.0
    order = np.argsort(angles)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(angles)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def order_lines(lines: list[list[Box]]) -> list[list[Box]]:
    """Top to bottom; lines whose vertical extents overlap strongly read left to right."""

    def extent(line):
        return (min(b.top for b in line), max(b.bottom for b in line), min(b.left for b in line))

    remaining = sorted(lines, key=lambda line: extent(line)[0])
    ordered: list[list[Box]] = []
    while remaining:
        first = remaining.pop(0)
        top, bottom, _ = extent(first)
        band = [first]
        for line in list(remaining):
            t, b, _ = extent(line)
            overlap = min(bottom, b) - max(top, t)
            if overlap > 0.5 * min(bottom - top, b - t):
                band.append(line)
                remaining.remove(line)
        ordered.extend(sorted(band, key=lambda line: extent(line)[2]))
    return ordered


def enclosing_rectangle(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """The smallest rotated rectangle around all ``polygons``, clockwise from top-left.

    Used for line polygons (around a line's words) and block polygons (around a block's
    lines); a ``(4, 2)`` float32 array ordered as ``rectify.order_quadrilateral`` does.
    """
    points = np.concatenate([np.asarray(p, dtype=np.float32).reshape(-1, 2) for p in polygons])
    rectangle = cv2.minAreaRect(points)
    if min(rectangle[1]) > 0:
        return order_quadrilateral(cv2.boxPoints(rectangle))
    # Points on one line: OpenCV can give their segment turned by 90 degrees about its
    # middle (found by tests/test_properties.py), so span the two farthest points instead.
    offsets = points - points[0]
    along = offsets @ offsets[np.argmax(np.linalg.norm(offsets, axis=1))]
    start, end = points[np.argmin(along)], points[np.argmax(along)]
    return order_quadrilateral(np.stack([start, end, end, start]))


def clamp_to_image(polygon, width: int, height: int) -> list[list[float]]:
    """``polygon``'s points moved onto the image ``[0, width] x [0, height]`` where they lie
    outside it (the number and order of points stay the same)."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    points = np.clip(points, [0.0, 0.0], [float(width), float(height)])
    return points.tolist()


@dataclass(frozen=True)
class _LineShape:
    """A line's rectangle (top-left, top-right, bottom-right, bottom-left) and its axes.

    Distances between lines are measured along the line's own axes rather than the image's,
    so a paragraph photographed at a slant groups the same way as an upright one.
    """

    quad: np.ndarray  # (4, 2)

    @classmethod
    def of(cls, polygon: np.ndarray) -> _LineShape:
        return cls(enclosing_rectangle([polygon]).astype(np.float64))

    @property
    def along(self) -> np.ndarray:
        """Unit vector in reading direction (along the top edge)."""
        edge = self.quad[1] - self.quad[0]
        length = np.linalg.norm(edge)
        return edge / length if length > 1e-6 else np.array([1.0, 0.0])

    @property
    def down(self) -> np.ndarray:
        """Unit vector from the top edge towards the bottom edge (y grows downwards)."""
        x, y = self.along
        return np.array([-y, x])

    @property
    def height(self) -> float:
        left = np.linalg.norm(self.quad[3] - self.quad[0])
        right = np.linalg.norm(self.quad[2] - self.quad[1])
        return max(float(left + right) / 2, 1.0)

    def span(self, axis: np.ndarray) -> tuple[float, float]:
        """Extent of the rectangle projected onto ``axis``."""
        projected = self.quad @ axis
        return float(projected.min()), float(projected.max())


def _same_block(upper: _LineShape, lower: _LineShape, max_gap: float, max_ratio: float) -> bool:
    """Whether ``lower``, the next line in reading order, continues ``upper``'s paragraph."""
    heights = sorted((upper.height, lower.height))
    if heights[1] > max_ratio * heights[0]:
        return False  # a heading above body text, or a caption in a smaller size
    mean_height = (heights[0] + heights[1]) / 2
    gap = lower.span(upper.down)[0] - upper.span(upper.down)[1]
    if gap > max_gap * mean_height:
        return False  # more white space than paragraph line spacing leaves
    if gap < -0.5 * mean_height:
        return False  # not below: loose boxes overlap a little, a line above is elsewhere
    (a_start, a_end), (b_start, b_end) = upper.span(upper.along), lower.span(upper.along)
    return min(a_end, b_end) > max(a_start, b_start)  # side by side is another column


def group_into_blocks(
    line_polygons: Sequence[np.ndarray], max_gap: float = 1.0, max_height_ratio: float = 2.0
) -> list[list[int]]:
    """Indices of ``line_polygons`` (lines in reading order) grouped into blocks.

    A block is a run of consecutive lines that sit like the lines of one paragraph: each
    line starts below the previous one, with a gap of at most ``max_gap`` times their mean
    height (or an overlap of at most half of it), their heights differ by at most
    ``max_height_ratio`` times, and they overlap in reading direction. Any other line starts
    a new block. Only neighbours in reading order
    are compared and blocks are cut out of that order without moving a line, so a result's
    text reads exactly as without blocks; the price is that columns which reading order
    interleaves line by line come out as one block per line.
    """
    shapes = [_LineShape.of(np.asarray(p, dtype=np.float32)) for p in line_polygons]
    blocks: list[list[int]] = []
    for i, shape in enumerate(shapes):
        if blocks and _same_block(shapes[i - 1], shape, max_gap, max_height_ratio):
            blocks[-1].append(i)
        else:
            blocks.append([i])
    return blocks
