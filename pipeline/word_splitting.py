"""Cutting detected text lines into words at the gaps between them.

Detectors trained on text lines (PP-OCR's DB model) return one polygon per line, while the
pipeline (and ICDAR-style evaluation) wants words. A line is sampled into an upright strip
along its direction; a column profile of that strip (how much ink, contrast or text
probability each column holds) drops to near zero between words. Runs of such empty columns
wider than a fraction of the line height are word gaps; the ink between them, padded a
little, becomes a word quadrilateral in the original geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from .curves import STRAIGHT_BEND, TextBand, bend
from .stages import Detection

PROFILES = ("ink", "contrast", "prob")


@dataclass(frozen=True)
class LineFrame:
    """A text line as an oriented rectangle: ``origin + s * along + t * across``."""

    origin: np.ndarray  # top-left corner, (x, y)
    along: np.ndarray  # unit vector in reading direction
    across: np.ndarray  # unit vector from the top edge to the bottom edge
    length: float
    height: float

    @classmethod
    def around(cls, polygon: np.ndarray) -> LineFrame:
        """The minimum-area rectangle around a polygon, read along its long side."""
        (cx, cy), (w, h), angle = cv2.minAreaRect(np.asarray(polygon, np.float32).reshape(-1, 2))
        theta = np.deg2rad(angle)
        along = np.array([np.cos(theta), np.sin(theta)])
        if h > w:  # OpenCV's first side is not always the long one
            along, w, h = np.array([-along[1], along[0]]), h, w
        if along[0] < 0 or (along[0] == 0 and along[1] < 0):  # read left to right
            along = -along
        across = np.array([-along[1], along[0]])  # 90 degrees clockwise in image coordinates
        origin = np.array([cx, cy]) - along * w / 2 - across * h / 2
        return cls(origin, along, across, float(w), float(h))

    def quad(self, start: float, end: float) -> np.ndarray:
        """The (4, 2) quadrilateral covering ``start <= s <= end``, clockwise from top-left."""
        top_left = self.origin + self.along * start
        top_right = self.origin + self.along * end
        return np.stack(
            [
                top_left,
                top_right,
                top_right + self.across * self.height,
                top_left + self.across * self.height,
            ]
        )

    def region(self, start: float, end: float) -> np.ndarray:
        """The polygon of the stretch ``start <= s <= end`` (``quad``), as ``TextBand``'s."""
        return self.quad(start, end)

    def sample(self, image: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The line's pixels as an upright strip, ``scale`` strip pixels per image pixel."""
        size = (max(1, round(self.length * scale)), max(1, round(self.height * scale)))
        strip_to_image = np.array(
            [
                [self.along[0] / scale, self.across[0] / scale, self.origin[0]],
                [self.along[1] / scale, self.across[1] / scale, self.origin[1]],
            ]
        )
        return cv2.warpAffine(
            image,
            strip_to_image,
            size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )


def line_frame(line) -> LineFrame | TextBand:
    """The frame a line is read along: its centre curve when the line is a curved polygon
    (more than 4 points, bent), else its minimum-area rectangle."""
    points = np.asarray(line, dtype=np.float64).reshape(-1, 2)
    if len(points) > 4:
        band = TextBand.from_polygon(points)
        if bend(band.top, band.bottom) > STRAIGHT_BEND:
            return band
    return LineFrame.around(points)


def to_gray(image: np.ndarray) -> np.ndarray:
    """A single-channel uint8 view of a BGR or gray image."""
    if image.ndim == 2:
        return image
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY)


def ink_map(strip: np.ndarray) -> np.ndarray:
    """1 where a pixel is ink: Otsu's two classes, ink being the rarer one on the top and
    bottom rows (the detector's box leaves background there)."""
    _, binary = cv2.threshold(strip, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([binary[0], binary[-1]])
    return binary if border.mean() < 0.5 else 1 - binary


def text_rows(ink: np.ndarray, top: int, bottom: int, level: float = 0.3) -> tuple[int, int]:
    """[top, bottom) rows of the text body: the run of inky rows around the densest row
    between ``top`` and ``bottom``, grown while rows hold at least ``level`` of its ink.

    Measuring columns over the whole body (not a fixed middle band) keeps the bars of
    letters such as L, T and F, which would otherwise leave word-like gaps.
    """
    share = ink.mean(axis=1)
    peak = top + int(np.argmax(share[top:bottom]))
    if share[peak] <= 0:
        return top, bottom
    inky = share >= level * share[peak]
    start = end = peak
    while start > 0 and inky[start - 1]:
        start -= 1
    while end + 1 < len(share) and inky[end + 1]:
        end += 1
    return start, end + 1


def contrast_profile(strip: np.ndarray) -> np.ndarray:
    """Each column's spread of intensity (max - min): flat background between words."""
    strip = strip.astype(np.float32)
    return strip.max(axis=0) - strip.min(axis=0)


def empty_runs(empty: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) ranges of empty columns lying between text columns."""
    filled = np.flatnonzero(~empty)
    if filled.size < 2:
        return []
    jumps = np.flatnonzero(np.diff(filled) > 1)
    return [(int(filled[j]) + 1, int(filled[j + 1])) for j in jumps]


def word_spans(
    empty: np.ndarray, min_gap: float, relative_gap: float = 0.0
) -> list[tuple[int, int]]:
    """[start, end) column ranges of words: text columns split at word gaps.

    A word gap is a run of empty columns at least ``min_gap`` wide and, when
    ``relative_gap`` > 0, at least ``relative_gap`` times the line's median gap (so evenly
    letter-spaced words such as "S A L E" stay whole). Empty ends are trimmed.
    """
    filled = np.flatnonzero(~empty)
    if filled.size == 0:
        return []
    runs = empty_runs(empty)
    threshold = min_gap
    if relative_gap > 0 and runs:
        threshold = max(threshold, relative_gap * float(np.median([b - a for a, b in runs])))
    spans, start = [], int(filled[0])
    for gap_start, gap_end in runs:
        if gap_end - gap_start >= threshold:
            spans.append((start, gap_start))
            start = gap_end
    spans.append((start, int(filled[-1]) + 1))
    return spans


@dataclass(frozen=True)
class WordSplitter:
    """Splits line polygons into word quadrilaterals (all lengths in line heights).

    Args:
        profile: what marks a column as text: ``"ink"`` (Otsu-binarised pixels),
            ``"contrast"`` (intensity spread) or ``"prob"`` (the detector's text probability).
        min_gap: the narrowest empty run, in line heights, that separates two words.
        relative_gap: a word gap must also be this many times the line's median gap between
            glyphs (0: off); keeps letter-spaced words ("S A L E") whole.
        gap_level: a column is empty when its profile is below this fraction of the line's
            typical (90th percentile) text column.
        band: the central fraction of the line's height the profile is measured on (the
            detector's box has margins above and below the text).
        margin: padding added before and after each word's ink, in line heights.
        min_word: pieces narrower than this (in line heights) are slivers and dropped
            (a line that would lose every piece is kept whole).
        min_strip_height: lines lower than this (pixels) are sampled finer, so that gaps of
            a pixel or two stay measurable.
        text_rows: for the ink profile, measure columns over the text body found from the
            ink's rows (see :func:`text_rows`) instead of the fixed ``band``.

    The defaults are the settings measured best on ICDAR 2015 photos with PP-OCR's
    detector (see ``detector_configs/default.py``).
    """

    needs_color: ClassVar[bool] = False

    profile: str = "ink"
    min_gap: float = 0.15
    gap_level: float = 0.15
    relative_gap: float = 2.0
    band: float = 0.6
    margin: float = 0.1
    min_word: float = 0.3
    min_strip_height: int = 32
    text_rows: bool = True

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, not {self.profile!r}")

    def split(
        self, line: np.ndarray, gray: np.ndarray, prob_map: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """Word polygons for one line polygon (pixels of ``gray``): quadrilaterals, (4, 2)
        each, cut from a straight line; polygons that follow the curve from a curved one."""
        frame = line_frame(line)
        if frame.length < 1 or frame.height < 1:
            return [np.asarray(line, np.float64).reshape(-1, 2)]
        # Small text is sampled finer, so that gaps of a pixel or two are still measurable.
        scale = max(1.0, self.min_strip_height / frame.height)
        profile = self.column_profile(frame, gray, prob_map, scale)
        reference = np.percentile(profile, 90)
        if reference <= 0:
            return [frame.region(0, frame.length)]
        empty = profile < self.gap_level * reference
        height = frame.height * scale  # line height in strip pixels
        spans = word_spans(empty, max(1.0, self.min_gap * height), self.relative_gap)
        margin = self.margin * height
        words = [
            frame.region(max(0.0, start - margin) / scale, min(len(profile), end + margin) / scale)
            for start, end in spans
            if end - start >= self.min_word * height
        ]
        return words or [frame.region(0, frame.length)]

    def column_profile(
        self,
        frame: LineFrame | TextBand,
        gray: np.ndarray,
        prob_map: np.ndarray | None,
        scale: float = 1.0,
    ) -> np.ndarray:
        """How much text each column of the line's strip holds."""
        source = prob_map if self.profile == "prob" else gray
        if source is None:
            raise ValueError("the 'prob' word profile needs the detector's probability map")
        strip = frame.sample(source, scale)
        if self.profile == "ink":
            strip = ink_map(strip)
        rows = strip.shape[0]
        cut = int(rows * (1 - self.band) / 2)
        top, bottom = (cut, rows - cut) if rows - 2 * cut >= 1 else (0, rows)
        if self.profile == "ink" and self.text_rows:
            top, bottom = text_rows(strip, top, bottom)
        band = strip[top:bottom]
        if self.profile == "contrast":
            return contrast_profile(band)
        return band.astype(np.float32).mean(axis=0)

    def split_detections(self, image: np.ndarray, lines: list[Detection]) -> list[Detection]:
        """The pipeline stage: any detector's line detections on an RGB image -> words.

        Each word keeps the score of its line. Needs a pixel profile (``ink`` or
        ``contrast``): a detector's probability map is not available at this stage."""
        if self.profile == "prob":
            raise ValueError("splitting detections needs the 'ink' or 'contrast' profile")
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        return [
            Detection(word.astype(np.float32), line.score)
            for line in lines
            for word in self.split(line.polygon, gray)
        ]
