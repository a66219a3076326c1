"""Grouping words into lines and putting lines into reading order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """What line grouping needs of a word: its polygon and its position in the input list."""

    index: int
    polygon: np.ndarray  # (N, 2)

    @property
    def centre(self) -> np.ndarray:
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
    polygons: list[np.ndarray], min_overlap: float = 0.5, max_gap: float = 2.5
) -> list[list[int]]:
    """Indices of ``polygons`` grouped into lines, lines in reading order.

    Words are taken left to right; a word joins a line when it overlaps that line's last
    word vertically by ``min_overlap`` of the smaller height and starts at most ``max_gap``
    word heights after it. Lines are then ordered top to bottom (by their vertical centre),
    and lines side by side (columns) left to right when they share a band.
    """
    boxes = sorted(
        (Box(i, np.asarray(p, dtype=np.float32).reshape(-1, 2)) for i, p in enumerate(polygons)),
        key=lambda b: b.left,
    )
    lines: list[list[Box]] = []
    for word in boxes:
        candidates = [line for line in lines if _same_line(line, word, min_overlap, max_gap)]
        if candidates:
            best = max(candidates, key=lambda line: _vertical_overlap(line[-1], word))
            best.append(word)
        else:
            lines.append([word])
    return [[b.index for b in line] for line in order_lines(lines)]


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
