"""Text that follows a curve: the band between a top and a bottom boundary.

A curved word or line (on a badge, a bottle, a wave) is described by a polygon of 2K points:
K along its top edge from the start of the text to its end, then K along its bottom edge
back (clockwise, from the top-left of the upright text), as Total-Text and CTW1500 annotate
curved words. ``band_polygon`` makes that polygon from a detector's region outline, or a
quadrilateral when the region is straight (most text), so straight text stays exactly as
before. ``TextBand`` is the same band as a coordinate frame: a distance along its centre
curve and a depth across it. It straightens the band into an upright strip
(``TextBand.sample``, used to cut crops and to find the gaps between words) and gives the
polygon of any stretch of it (``TextBand.region``, a word cut out of a curved line).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .rectify import orient_boundaries, resample, split_boundaries

# A band whose centre curve strays from its chord by at most this share of its height is
# straight: a quadrilateral describes it.
STRAIGHT_BEND = 0.3
# Regions no longer than this many heights are never bent (a blob has no centre curve).
MIN_CURVED_LENGTH = 2.0
MAX_SLICES = 16


def _densify(outline: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` pixels along a closed outline."""
    closed = np.vstack([outline, outline[:1]])
    lengths = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    count = int(min(max(lengths.sum() / step, len(outline)), 2000))
    return resample(closed, count)


def bend(top: np.ndarray, bottom: np.ndarray) -> float:
    """How far the centre curve strays from its chord, in band heights."""
    centre = (top + bottom) / 2
    chord = centre[-1] - centre[0]
    norm = float(np.linalg.norm(chord))
    height = float(np.mean(np.linalg.norm(bottom - top, axis=1)))
    if norm == 0 or height == 0:
        return 0.0
    offsets = np.abs(np.cross(chord, centre - centre[0])) / norm
    return float(offsets.max() / height)


def _tangents(points: np.ndarray) -> np.ndarray:
    """Unit directions along a closed, evenly sampled outline."""
    forward = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    return forward / (np.linalg.norm(forward, axis=1, keepdims=True) + 1e-9)


def _caps(points: np.ndarray, reach: int) -> tuple[int, int] | None:
    """Indices of the two ends of a band along its evenly sampled outline: where the
    outline turns back on itself, its direction ``reach`` points before and after being
    opposite. None when there are no two such places apart."""
    tangent = _tangents(points)
    turn = -(np.roll(tangent, reach, axis=0) * np.roll(tangent, -reach, axis=0)).sum(1)
    # Located on the turn averaged over a cap's length, so that a square end is found at
    # its middle rather than at a corner.
    window = np.ones(reach) / reach
    padded = np.concatenate([turn[-reach:], turn, turn[:reach]])
    smooth = np.convolve(padded, window, "same")[reach:-reach]
    n = len(points)
    first = int(np.argmax(smooth))
    apart = np.minimum((np.arange(n) - first) % n, (first - np.arange(n)) % n) >= n // 4
    if not apart.any():
        return None
    second = int(np.argmax(np.where(apart, smooth, -np.inf)))
    near = max(1, reach // 2)
    for cap in (first, second):
        if turn[np.arange(cap - near, cap + near + 1) % n].max() < 0.3:
            return None  # the outline does not turn back there: no band end
    return first, second


def band_boundaries(outline) -> tuple[np.ndarray, np.ndarray] | None:
    """Top and bottom boundaries (left to right) of a text region given by its outline,
    in any point order (a detector's contour); None when it is no band.

    The outline is followed round: at the two ends of the band it turns back on itself.
    Between the ends lie the two boundaries; the one facing the text's top is the top.
    This holds however far the band bends (a word on a ring, a wave)."""
    outline = np.asarray(outline, dtype=np.float64).reshape(-1, 2)
    area = cv2.contourArea(outline.astype(np.float32))
    perimeter = cv2.arcLength(outline.astype(np.float32), True)
    if area <= 0 or perimeter <= 0:
        return None
    # A band of length L and thickness h has area L h and perimeter 2 (L + h).
    discriminant = perimeter**2 / 4 - 4 * area
    if discriminant <= 0:  # as wide as long: no band
        return None
    thickness = (perimeter / 2 - np.sqrt(discriminant)) / 2
    step = max(thickness / 10, 0.5)
    points = _densify(outline, step)
    caps = _caps(points, reach=max(1, round(1.5 * thickness / step)))
    if caps is None:
        return None
    a, b = sorted(caps)
    # The two sides, each from the tip of one end round to the tip of the other.
    one = points[a : b + 1]
    other = np.roll(points, -b, axis=0)[: len(points) - (b - a) + 1][::-1]
    top, bottom = orient_boundaries(one.astype(np.float32), other.astype(np.float32))
    count = 8 * MAX_SLICES + 1
    return _square_ends(resample(top, count), resample(bottom, count))


def _square_ends(top: np.ndarray, bottom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries that meet at the band's tips, cut square: each end becomes the band's
    first full-depth cross-section, moved out along the band to the tip, so that the text
    is kept whole and the end slices are not pinched."""
    depth = np.linalg.norm(bottom - top, axis=1)
    full = np.flatnonzero(depth >= 0.8 * np.median(depth))
    first, last = int(full[0]), int(full[-1])
    if last - first < 2:
        return top, bottom
    centre = (top + bottom) / 2
    ends = []
    for inner, neighbour, tip in ((first, first + 1, centre[0]), (last, last - 1, centre[-1])):
        outwards = centre[inner] - centre[neighbour]
        outwards /= np.linalg.norm(outwards) + 1e-9
        shift = max(float((tip - centre[inner]) @ outwards), 0.0) * outwards
        ends.append((top[inner] + shift, bottom[inner] + shift))
    top = np.vstack([ends[0][0], top[first + 1 : last], ends[1][0]])
    bottom = np.vstack([ends[0][1], bottom[first + 1 : last], ends[1][1]])
    return top, bottom


def band_polygon(outline, min_width: float = 0.0) -> np.ndarray | None:
    """The polygon describing a detected text region: its minimum-area quadrilateral when
    the region is straight, else top boundary then bottom boundary back (2K points).

    None when the region is narrower than ``min_width`` (what MMOCR's DB post-processing
    drops). The quadrilateral is the one MMOCR's ``quad`` mode gives."""
    outline = np.asarray(outline, dtype=np.float32).reshape(-1, 2)
    rect = cv2.minAreaRect(outline)
    if min(rect[1]) < min_width:
        return None
    quad = cv2.boxPoints(rect).astype(np.float32)
    length, height = max(rect[1]), min(rect[1])
    if len(outline) <= 4 or height <= 0 or length < MIN_CURVED_LENGTH * height:
        return quad
    boundaries = band_boundaries(outline)
    if boundaries is None:
        return quad
    fine = TextBand(*(resample(chain, 4 * MAX_SLICES + 1) for chain in boundaries))
    slices = int(np.clip(round(fine.length / max(fine.height, 1.0)), 4, MAX_SLICES))
    top, bottom = (resample(chain, slices + 1) for chain in boundaries)
    if bend(top, bottom) <= STRAIGHT_BEND:
        return quad
    return np.vstack([top, bottom[::-1]]).astype(np.float32)


@dataclass(frozen=True)
class TextBand:
    """A curved text band as a frame: ``top[k]`` and ``bottom[k]`` are matching points of
    its two boundaries, left to right. A position ``s`` (pixels along the centre curve,
    0..``length``) and a depth ``d`` (0 at the top, 1 at the bottom) name a point."""

    top: np.ndarray
    bottom: np.ndarray

    @classmethod
    def from_polygon(cls, polygon) -> TextBand:
        """The band of a curved polygon (top edge, then bottom edge back), its boundaries
        resampled to matching points at equal shares of their lengths."""
        top, bottom = split_boundaries(np.asarray(polygon, dtype=np.float32).reshape(-1, 2))
        count = max(len(top), len(bottom), 2)
        return cls(
            resample(top, count).astype(np.float64), resample(bottom, count).astype(np.float64)
        )

    @property
    def _centre_positions(self) -> np.ndarray:
        centre = (self.top + self.bottom) / 2
        steps = np.linalg.norm(np.diff(centre, axis=0), axis=1)
        return np.concatenate([[0.0], np.cumsum(steps)])

    @property
    def length(self) -> float:
        return float(self._centre_positions[-1])

    @property
    def height(self) -> float:
        return float(np.mean(np.linalg.norm(self.bottom - self.top, axis=1)))

    def _edges_at(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top and bottom points at positions along the centre curve."""
        index = np.interp(positions, self._centre_positions, np.arange(len(self.top)))
        low = np.clip(np.floor(index).astype(int), 0, len(self.top) - 2)
        share = (index - low)[:, None]
        top = self.top[low] * (1 - share) + self.top[low + 1] * share
        bottom = self.bottom[low] * (1 - share) + self.bottom[low + 1] * share
        return top, bottom

    def sample(self, image: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The band straightened into an upright strip, ``scale`` strip pixels per pixel."""
        width = max(1, round(self.length * scale))
        height = max(1, round(self.height * scale))
        top, bottom = self._edges_at(np.arange(width) * (self.length / width))
        depth = (np.arange(height) / height)[:, None, None]
        maps = (top[None] * (1 - depth) + bottom[None] * depth).astype(np.float32)
        return cv2.remap(
            image,
            maps[..., 0],
            maps[..., 1],
            interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def region(self, start: float, end: float) -> np.ndarray:
        """The polygon of the stretch ``start <= s <= end``: its top edge left to right,
        then its bottom edge back, with a point wherever the band bends in between."""
        positions = self._centre_positions
        inner = positions[(positions > start) & (positions < end)]
        stops = np.concatenate([[start], inner, [end]])
        top, bottom = self._edges_at(stops)
        return np.vstack([top, bottom[::-1]]).astype(np.float32)
