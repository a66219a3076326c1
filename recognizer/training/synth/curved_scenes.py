"""Photos with curved words set on them, annotated the way Total-Text and CTW1500 annotate.

No photo set of curved text is available offline, so this module makes one for developing
detection on curved text. The backgrounds are real photos (a ``scenes.jsonl`` set such as the
ICDAR 2015 dev photos); each scene adds 1-4 words set along an arc (the top or bottom of a
round badge, several words possibly sharing one arc like a sign), around a circle, or along a
sine wave, and a few straight ones. Every letter is drawn upright and turned by the tangent
angle of the curve at its middle. A mild homography tilts the text layer of some scenes.

Each word's polygon follows its shape: ``n`` points along the top edge from the word's start
to its end, then ``n`` along the bottom edge back (clockwise from the top left of the upright
word), in a band around the word's ink with a margin of :data:`MARGIN` of the ink's height.
The photo's own text regions, readable or not, become don't-care instances (``"###"``,
``ignore``): text already in the photo is neither required nor counted as a false detection.

A scene is a function of ``(seed, index)`` alone, so :func:`write_curved_scenes` writes the
same bytes for the same arguments (on a machine with the same fonts and word lists).
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw
from shapely.geometry import Polygon

from .fonts import FontInfo, load_font
from .render import WordRenderer, _contrasting_color, _luminance, _shadow_alpha
from .words import TextConfig, TextSampler

TEXT_HEIGHTS = (20.0, 90.0)  # ink height of a word in pixels; the largest drawn log-uniformly
MARGIN = 0.12  # of a word's ink height, between its ink and its polygon
MIN_BEND = 0.2  # a curved word's top edge leaves its chord by this share of the word's height
HOMOGRAPHY_SHARE = 0.4  # of the scenes, whose text layer is seen at a slant
MAX_WORDS = 4
# Waves are drawn most often because most of them are dropped: short words barely bend on them.
LAYOUT_WEIGHTS = {"arc": 0.3, "circle": 0.22, "wave": 0.4, "line": 0.08}
CURVED_LAYOUTS = frozenset({"arc", "circle", "wave"})
JPEG_QUALITY = 90
# Mostly words in mixed case, some numbers and codes; 3-12 characters.
WORD_CONFIG = TextConfig(
    {"word": 0.84, "number": 0.05, "product_code": 0.06, "price": 0.03, "date": 0.02},
    {"lower": 0.4, "title": 0.35, "upper": 0.25},
    max_length=12,
    min_length=3,
)
_ATTEMPTS = 60  # word groups tried per scene before settling for fewer words
_SHIFTS = 8  # positions tried per word group
_INK_LEVEL = 64  # mask value from which a pixel counts as ink
_MIN_INSIDE = 0.995  # share of a word's ink its polygon must hold, or the group is redrawn


# --- curves that words are set along ----------------------------------------------------


@dataclass(frozen=True)
class TextPath:
    """A curve sampled about every half pixel of its length, in reading direction.

    ``angles`` are the tangent directions in image axes (y down), unwrapped; the letters' up
    direction is the tangent turned a quarter turn counter-clockwise on screen.
    """

    points: np.ndarray  # (K, 2)
    angles: np.ndarray  # (K,)
    lengths: np.ndarray  # (K,) arc length from the first sample

    @classmethod
    def from_points(cls, points: np.ndarray) -> TextPath:
        steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
        lengths = np.concatenate([[0.0], np.cumsum(steps)])
        dx, dy = np.gradient(points[:, 0]), np.gradient(points[:, 1])
        return cls(points, np.unwrap(np.arctan2(dy, dx)), lengths)

    @property
    def length(self) -> float:
        return float(self.lengths[-1])

    def point(self, s: np.ndarray | float) -> np.ndarray:
        x = np.interp(s, self.lengths, self.points[:, 0])
        y = np.interp(s, self.lengths, self.points[:, 1])
        return np.stack([x, y], axis=-1)

    def angle(self, s: np.ndarray | float) -> np.ndarray:
        return np.interp(s, self.lengths, self.angles)

    def up(self, s: np.ndarray | float) -> np.ndarray:
        theta = self.angle(s)
        return np.stack([np.sin(theta), -np.cos(theta)], axis=-1)

    def offset(self, s: np.ndarray, v: float) -> np.ndarray:
        """Points ``v`` pixels above the curve (below for negative ``v``) at lengths ``s``."""
        return self.point(s) + v * self.up(s)

    def turning(self, s0: float, s1: float) -> float:
        """How far the tangent turns between two lengths, in radians, both ways summed."""
        return float(np.abs(np.diff(self.angle(np.linspace(s0, s1, 65)))).sum())

    def locate(self, points: np.ndarray, near: float, window: float) -> np.ndarray:
        """(s, v) of points: length of their foot on the curve and height above it.

        Only the stretch within ``window`` of length ``near`` is searched, so that a ring
        nearly closed on itself is not mistaken for its other end.
        """
        lo, hi = np.searchsorted(self.lengths, [near - window, near + window])
        hi = max(int(hi), int(lo) + 1)
        candidates = self.points[lo:hi]
        nearest = lo + ((points[:, None, :] - candidates[None]) ** 2).sum(-1).argmin(axis=1)
        rel = points - self.points[nearest]
        theta = self.angles[nearest]
        s = self.lengths[nearest] + rel[:, 0] * np.cos(theta) + rel[:, 1] * np.sin(theta)
        v = rel[:, 0] * np.sin(theta) - rel[:, 1] * np.cos(theta)
        return np.stack([s, v], axis=-1)

    def moved(self, shift: np.ndarray) -> TextPath:
        return TextPath(self.points + shift, self.angles, self.lengths)

    def turned(self, angle: float) -> TextPath:
        """The path rotated by ``angle`` (clockwise on screen) about the origin."""
        c, s = math.cos(angle), math.sin(angle)
        rotation = np.array([[c, -s], [s, c]])
        return TextPath(self.points @ rotation.T, self.angles + angle, self.lengths)


def circle_path(radius: float, start: float, span: float, clockwise: bool) -> TextPath:
    """``span`` radians of a circle about the origin from polar angle ``start``.

    Clockwise on screen the letters face outward (the top of a badge); counter-clockwise they
    face the center (the bottom of a badge, read left to right).
    """
    steps = max(2, math.ceil(radius * span * 2))
    phi = start + (1.0 if clockwise else -1.0) * np.linspace(0.0, span, steps + 1)
    return TextPath.from_points(radius * np.stack([np.cos(phi), np.sin(phi)], axis=-1))


def wave_path(amplitude: float, wavelength: float, phase: float, length: float) -> TextPath:
    """A sine wave along the x axis from the origin, at least ``length`` long."""
    x = np.arange(0.0, length + 1.0, 0.5)
    y = amplitude * np.sin(2 * math.pi * x / wavelength + phase)
    return TextPath.from_points(np.stack([x, y], axis=-1))


def line_path(length: float) -> TextPath:
    x = np.arange(0.0, length + 1.0, 0.5)
    return TextPath.from_points(np.stack([x, np.zeros_like(x)], axis=-1))


# --- letters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Glyph:
    """One character drawn upright, with where its baseline middle and its ink box lie."""

    fill: np.ndarray  # uint8
    outline: np.ndarray  # fill and stroke together (the fill itself without a stroke)
    anchor: tuple[float, float]  # baseline at the middle of the advance, in mask pixels
    advance: float
    box_points: np.ndarray  # (8, 2) ink box corners and edge middles, relative to the anchor


@functools.lru_cache(maxsize=8192)
def draw_glyph(font_path: str, size: int, char: str, stroke: int) -> Glyph:
    font = load_font(font_path, size)
    left, top, right, bottom = font.getbbox(char, anchor="ls", stroke_width=stroke)
    pad = 2
    shape = (right - left + 2 * pad, bottom - top + 2 * pad)
    origin = (pad - left, pad - top)
    fill = Image.new("L", shape, 0)
    ImageDraw.Draw(fill).text(origin, char, font=font, fill=255, anchor="ls")
    outline = fill
    if stroke:
        outline = Image.new("L", shape, 0)
        ImageDraw.Draw(outline).text(
            origin, char, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255
        )
    advance = font.getlength(char)
    anchor = (origin[0] + advance / 2, float(origin[1]))
    outline_array = np.asarray(outline)
    rows, cols = np.nonzero(outline_array)
    if rows.size == 0:
        box = np.zeros((8, 2))
    else:  # pixel centers sit on integer coordinates, so the ink reaches half a pixel past them
        x0, x1 = cols.min() - 0.5 - anchor[0], cols.max() + 0.5 - anchor[0]
        y0, y1 = rows.min() - 0.5 - anchor[1], rows.max() + 0.5 - anchor[1]
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        box = np.array(
            [[x0, y0], [xm, y0], [x1, y0], [x1, ym], [x1, y1], [xm, y1], [x0, y1], [x0, ym]]
        )
    return Glyph(np.asarray(fill), outline_array, anchor, advance, box)


def _height_ratio(font_path: str, text: str) -> float:
    """Ink height of the text per pixel of font size."""
    _, top, _, bottom = load_font(font_path, 64).getbbox(text, anchor="ls")
    return max(bottom - top, 1) / 64


@dataclass(frozen=True)
class WordStyle:
    font: str  # file path
    size: int  # pixels per em
    stroke: int  # outline width in pixels, 0 for none
    tracking: float  # extra pixels between letters

    def glyphs(self, text: str) -> list[Glyph]:
        return [draw_glyph(self.font, self.size, c, self.stroke) for c in text]

    def width(self, text: str) -> float:
        return sum(g.advance for g in self.glyphs(text)) + self.tracking * (len(text) - 1)

    @property
    def extent(self) -> tuple[float, float]:
        """Heights of the bottom of "g" and the top of "H" above the baseline."""
        _, top, _, bottom = load_font(self.font, self.size).getbbox("Hg", anchor="ls")
        return float(-bottom), float(-top)

    @property
    def height(self) -> float:
        low, high = self.extent
        return high - low

    @property
    def word_gap(self) -> float:
        """Room between words on one curve: enough for both polygons' margins."""
        return max(0.45 * self.size, 3 * MARGIN * self.height + 4)


# --- a word set along a curve, and its polygon -------------------------------------------


@dataclass(frozen=True)
class WordOnPath:
    text: str
    layout: str  # "arc", "circle", "wave" or "line"
    path: TextPath
    start: float  # length along the path where the first letter's advance begins
    style: WordStyle

    @property
    def curved(self) -> bool:
        return self.layout in CURVED_LAYOUTS

    def poses(self) -> list[tuple[Glyph, float, np.ndarray]]:
        """Each glyph, the length of its middle along the path and its 2x3 placing transform."""
        placed = []
        cursor = self.start
        for glyph in self.style.glyphs(self.text):
            s = cursor + glyph.advance / 2
            (x, y), theta = self.path.point(s), float(self.path.angle(s))
            c, si = math.cos(theta), math.sin(theta)
            ax, ay = glyph.anchor
            transform = np.array(
                [[c, -si, x - (c * ax - si * ay)], [si, c, y - (si * ax + c * ay)]]
            )
            placed.append((glyph, s, transform))
            cursor += glyph.advance + self.style.tracking
        return placed

    def ink_band(self) -> tuple[float, float, float, float]:
        """(s0, s1, v_low, v_high): the word's ink in lengths along and heights above the path.

        Found from the corners and edge middles of each letter's ink box: along a circle the
        height of a straight edge peaks at its ends or at its middle, so these points bound it.
        """
        located = []
        for glyph, s, transform in self.poses():
            points = (glyph.box_points + glyph.anchor) @ transform[:, :2].T + transform[:, 2]
            window = glyph.advance + 2.0 * self.style.size
            located.append(self.path.locate(points, s, window))
        sv = np.concatenate(located)
        (s0, v0), (s1, v1) = sv.min(axis=0), sv.max(axis=0)
        return float(s0), float(s1), float(v0), float(v1)

    def polygon(self) -> np.ndarray:
        """The word's outline: top edge start to end, then bottom edge end to start.

        The band holds the ink with a margin. Its ends follow the sides of the first and last
        letters, not the path's normal, which on a tight arc would leave a wedge of background
        at the outer corners.
        """
        _, _, low, high = self.ink_band()
        margin = MARGIN * (high - low)
        low, high = low - margin, high + margin
        poses = self.poses()
        top = (self._side(poses[0], high, -margin), self._side(poses[-1], high, margin))
        bottom = (self._side(poses[0], low, -margin), self._side(poses[-1], low, margin))
        turning = self.path.turning(min(top[0], bottom[0]), max(top[1], bottom[1]))
        return band_polygon(self.path, top, bottom, low, high, stations_for(turning))

    def _side(self, pose: tuple[Glyph, float, np.ndarray], v: float, margin: float) -> float:
        """Where the side of a letter's ink box, moved out by ``margin``, meets height ``v``.

        A negative margin gives the left side (moved left), a positive one the right side.
        """
        glyph, s, _ = pose
        xs = glyph.box_points[:, 0]
        target = (xs.min() if margin < 0 else xs.max()) + margin
        theta = float(self.path.angle(s))
        tangent = np.array([math.cos(theta), math.sin(theta)])
        reach = glyph.advance + 0.5 * self.style.size
        grid = np.linspace(s - reach, s + reach, int(4 * reach) + 2)
        # How far along the letter's own baseline each point of the height-v curve lies.
        along = (self.path.offset(grid, v) - self.path.point(s)) @ tangent
        return float(np.interp(target, np.maximum.accumulate(along), grid))

    def moved(self, shift: np.ndarray) -> WordOnPath:
        return WordOnPath(self.text, self.layout, self.path.moved(shift), self.start, self.style)


def stations_for(turning: float) -> int:
    """Points per polygon edge: 7 for a straight word, one more per 30 degrees of turn."""
    return int(np.clip(7 + turning // math.radians(30), 7, 14))


def band_polygon(
    path: TextPath,
    top: tuple[float, float],
    bottom: tuple[float, float],
    low: float,
    high: float,
    stations: int,
) -> np.ndarray:
    """The band between heights ``low`` and ``high`` as a polygon.

    The top edge runs over lengths ``top`` = (start, end) along the path, the bottom edge
    over ``bottom``; each gets ``stations`` points.
    """
    upper = _edge(path, top, high, stations, outward=1.0)
    lower = _edge(path, bottom, low, stations, outward=-1.0)
    return np.concatenate([upper, lower[::-1]])


def _edge(
    path: TextPath, span: tuple[float, float], v: float, stations: int, outward: float
) -> np.ndarray:
    """Points at height ``v``, pushed outward where the curve bulges past their chords.

    On the convex side the straight chord between two stations cuts into the band; pushing
    both ends out by the bulge keeps the band inside the polygon.
    """
    s = np.linspace(*span, stations)
    points = path.offset(s, v)
    curve = path.offset(np.linspace(*span, (stations - 1) * 8 + 1), v)
    normals = outward * path.up(s)
    push = np.zeros(stations)
    for j in range(stations - 1):
        chord = points[j + 1] - points[j]
        normal = np.array([chord[1], -chord[0]]) / max(float(np.linalg.norm(chord)), 1e-9)
        if normal @ (normals[j] + normals[j + 1]) < 0:
            normal = -normal
        bulge = float(((curve[8 * j : 8 * j + 9] - points[j]) @ normal).max())
        push[j] = max(push[j], bulge)
        push[j + 1] = max(push[j + 1], bulge)
    return points + normals * (1.2 * push[:, None])


def bend(polygon: np.ndarray) -> float:
    """How far the top edge leaves the chord between its ends, per unit of word height."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    n = len(points) // 2
    top, bottom = points[:n], points[n:][::-1]
    chord = top[-1] - top[0]
    length = max(float(np.linalg.norm(chord)), 1e-9)
    rel = top - top[0]
    deviation = np.abs(rel[:, 0] * chord[1] - rel[:, 1] * chord[0]) / length
    height = float(np.linalg.norm(top - bottom, axis=1).mean())
    return float(deviation.max()) / max(height, 1e-9)


# --- layouts: where on which curve the words of a group go ---------------------------------


def _set_words(path: TextPath, texts: Sequence[str], style: WordStyle, lead: float, layout: str):
    words, cursor = [], lead
    for text in texts:
        words.append(WordOnPath(text, layout, path, cursor, style))
        cursor += style.width(text) + style.word_gap
    return words


def _group_length(texts: Sequence[str], style: WordStyle) -> float:
    return sum(style.width(t) for t in texts) + style.word_gap * (len(texts) - 1)


def _arc(texts, style, radius, middle, arch: bool, layout: str) -> list[WordOnPath]:
    """Words centered on polar angle ``middle``: on top of the circle or hanging under it."""
    lead = 2.0 * style.size
    span = (_group_length(texts, style) + 2 * lead) / radius
    start = middle - span / 2 if arch else middle + span / 2
    return _set_words(circle_path(radius, start, span, clockwise=arch), texts, style, lead, layout)


def arc_layout(texts: Sequence[str], style: WordStyle, rng: np.random.Generator):
    """One arc through 60-170 degrees, letters facing out (a badge's top) or in (its bottom)."""
    total = _group_length(texts, style)
    radius = max(total / rng.uniform(math.radians(60), math.radians(170)), 2.5 * style.height)
    arch = bool(rng.random() < 0.5)
    tilt = float(np.clip(rng.normal(0.0, 0.2), -0.45, 0.45))
    middle = (-math.pi / 2 if arch else math.pi / 2) + tilt
    return _arc(texts, style, radius, middle, arch, "arc")


def circle_layout(texts: Sequence[str], style: WordStyle, rng: np.random.Generator):
    """Words around most of a circle like a seal, or a badge: an arch over, a smile under."""
    height = style.height
    if len(texts) >= 2 and rng.random() < 0.5:
        split = int(rng.integers(1, len(texts)))
        over, under = texts[:split], texts[split:]
        longest = max(_group_length(over, style), _group_length(under, style))
        radius = max(longest / rng.uniform(math.radians(90), math.radians(160)), 2.5 * height)
        low, high = style.extent
        # Letters under the center face it: their baseline lies further out, on the ring's rim.
        return _arc(over, style, radius, -math.pi / 2, True, "circle") + _arc(
            under, style, radius + high + low, math.pi / 2, False, "circle"
        )
    total = _group_length(texts, style)
    radius = max(total / rng.uniform(math.radians(200), math.radians(320)), 2.5 * height)
    lead = 2.0 * style.size
    path = circle_path(radius, rng.uniform(0, 2 * math.pi), (total + 2 * lead) / radius, True)
    return _set_words(path, texts, style, lead, "circle")


def wave_layout(texts: Sequence[str], style: WordStyle, rng: np.random.Generator):
    """Words along a sine wave, bent no tighter than twice the text height."""
    height, total = style.height, _group_length(texts, style)
    wavelength = rng.uniform(5.5, max(5.5, min(10.0, 2.0 * total / height))) * height
    steepest = min(1.2 * height, wavelength**2 / (8 * math.pi**2 * height))
    amplitude = rng.uniform(0.35 * height, max(0.35 * height, steepest))
    lead = 2.0 * style.size
    path = wave_path(amplitude, wavelength, rng.uniform(0, 2 * math.pi), total + 2 * lead)
    path = path.turned(float(np.clip(rng.normal(0.0, 0.15), -0.35, 0.35)))
    return _set_words(path, texts, style, lead, "wave")


def line_layout(texts: Sequence[str], style: WordStyle, rng: np.random.Generator):
    lead = 2.0 * style.size
    path = line_path(_group_length(texts, style) + 2 * lead)
    path = path.turned(float(np.clip(rng.normal(0.0, 0.15), -0.35, 0.35)))
    return _set_words(path, texts, style, lead, "line")


LAYOUTS = {"arc": arc_layout, "circle": circle_layout, "wave": wave_layout, "line": line_layout}


# --- drawing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordMasks:
    """A word's fill and outline masks (uint8) and where their top left lies in the image."""

    fill: np.ndarray
    outline: np.ndarray
    offset: tuple[int, int]  # (x, y)

    @property
    def ink(self) -> np.ndarray:
        return np.maximum(self.fill, self.outline) >= _INK_LEVEL


def draw_word(word: WordOnPath, homography: np.ndarray | None) -> WordMasks:
    """The word's letters placed along its path, then seen through the homography."""
    poses = word.poses()
    corners = [_mask_corners(g.fill.shape) @ t[:, :2].T + t[:, 2] for g, _, t in poses]
    x0, y0 = np.floor(np.concatenate(corners).min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(np.concatenate(corners).max(axis=0)).astype(int) + 2
    fill = np.zeros((y1 - y0, x1 - x0), np.uint8)
    outline = np.zeros_like(fill) if word.style.stroke else fill
    for (glyph, _, transform), box in zip(poses, corners):
        gx0, gy0 = np.floor(box.min(axis=0)).astype(int) - 1
        gx1, gy1 = np.ceil(box.max(axis=0)).astype(int) + 2
        local = transform.copy()
        local[:, 2] -= (gx0, gy0)
        size = (gx1 - gx0, gy1 - gy0)
        window = (slice(gy0 - y0, gy1 - y0), slice(gx0 - x0, gx1 - x0))
        np.maximum(fill[window], cv2.warpAffine(glyph.fill, local, size), out=fill[window])
        if word.style.stroke:
            placed = cv2.warpAffine(glyph.outline, local, size)
            np.maximum(outline[window], placed, out=outline[window])
    masks = WordMasks(fill, outline, (int(x0), int(y0)))
    return masks if homography is None else _warp_masks(masks, homography)


def _mask_corners(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    return np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])


def _warp_masks(masks: WordMasks, homography: np.ndarray) -> WordMasks:
    ox, oy = masks.offset
    corners = _mask_corners(masks.fill.shape) + (ox, oy)
    mapped = project(corners, homography)
    x0, y0 = np.floor(mapped.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(mapped.max(axis=0)).astype(int) + 2
    into = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64)
    out_of = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]], dtype=np.float64)
    full = into @ homography @ out_of
    size = (int(x1 - x0), int(y1 - y0))
    fill = cv2.warpPerspective(masks.fill, full, size, flags=cv2.INTER_LINEAR)
    outline = (
        fill
        if masks.outline is masks.fill
        else cv2.warpPerspective(masks.outline, full, size, flags=cv2.INTER_LINEAR)
    )
    return WordMasks(fill, outline, (int(x0), int(y0)))


def project(points: np.ndarray, homography: np.ndarray | None) -> np.ndarray:
    if homography is None:
        return np.asarray(points, dtype=np.float64)
    flat = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(flat, homography).reshape(-1, 2)


def mild_homography(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """The image's corners each moved by up to 5% of its size: a gentle slant."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    moved = corners + rng.uniform(-0.05, 0.05, (4, 2)).astype(np.float32) * (width, height)
    return cv2.getPerspectiveTransform(corners, moved.astype(np.float32)).astype(np.float64)


def ink_inside(masks: WordMasks, polygon: np.ndarray) -> float:
    """The share of the word's ink pixels that lie inside the polygon."""
    ink = masks.ink
    inside = np.zeros(ink.shape, np.uint8)
    points = np.round(np.asarray(polygon).reshape(-1, 2) - masks.offset).astype(np.int32)
    cv2.fillPoly(inside, [points], 1)
    total = int(ink.sum())
    return float((ink & (inside > 0)).sum()) / total if total else 1.0


@dataclass(frozen=True)
class _Paint:
    text: np.ndarray  # RGB
    edge: np.ndarray | None  # RGB of the outline, None without one
    shadow: bool
    blur: float  # sigma of a slight softening of the letters, 0 for none


def _choose_paint(
    image: np.ndarray, polygons: Sequence[np.ndarray], stroke: int, rng: np.random.Generator
) -> _Paint:
    """Colors contrasting with the photo under the words (an outline if there is a stroke)."""
    mean, spread = _local_background(image, polygons)
    light = mean > 0.5
    text = _contrasting_color(light, rng.uniform(0.35, 0.55), rng, 0.5)
    edge = _contrasting_color(not light, 0.3, rng, 0.5) if stroke else None
    shadow = bool(rng.random() < 0.2 + 0.3 * (spread > 0.15))
    blur = float(rng.uniform(0.3, 0.8)) if rng.random() < 0.4 else 0.0
    return _Paint(text, edge, shadow, blur)


def _local_background(image: np.ndarray, polygons: Sequence[np.ndarray]) -> tuple[float, float]:
    """Mean and spread of the photo's luminance under the polygons."""
    points = np.concatenate(polygons)
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(p - (x0, y0)).astype(np.int32) for p in polygons], 1)
    lum = _luminance(image[y0:y1, x0:x1].astype(np.float32))[mask > 0]
    return (float(lum.mean()), float(lum.std())) if lum.size else (0.5, 0.0)


def _paint_word(
    canvas: np.ndarray, masks: WordMasks, paint: _Paint, height: float, rng: np.random.Generator
) -> None:
    """Shadow, outline and fill of one word onto the float RGB canvas, in place."""
    x0, y0 = masks.offset
    h, w = masks.fill.shape
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + w, canvas.shape[1]), min(y0 + h, canvas.shape[0])
    if cx1 <= cx0 or cy1 <= cy0:
        return
    window = canvas[cy0:cy1, cx0:cx1]
    crop = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))

    def alpha(mask: np.ndarray) -> np.ndarray:
        soft = cv2.GaussianBlur(mask, (0, 0), paint.blur) if paint.blur else mask
        return (soft[crop].astype(np.float32) * (1 / 255.0))[..., None]

    if paint.shadow:  # reaching half as far as on crops, so it stays within the margin
        shadow = _shadow_alpha(masks.outline, 0.5 * height, rng)[crop][..., None]
        window -= window * shadow
    if paint.edge is not None:
        window += (paint.edge - window) * alpha(masks.outline)
    window += (paint.text - window) * alpha(masks.fill)


# --- scenes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackgroundPhoto:
    path: Path
    text_regions: list[list[float]]  # the photo's own ground-truth polygons, flat


def read_background_photos(scenes_file: str | Path) -> list[BackgroundPhoto]:
    """The photos of a ``scenes.jsonl`` set with all their ground-truth regions."""
    scenes_file = Path(scenes_file)
    photos = []
    for line in scenes_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            scene = json.loads(line)
            regions = [list(i["polygon"]) for i in scene["instances"]]
            photos.append(BackgroundPhoto(scenes_file.parent / scene["file"], regions))
    if not photos:
        raise ValueError(f"no photos in {scenes_file}")
    return photos


@dataclass(frozen=True)
class CurvedWord:
    text: str
    layout: str
    polygon: list[int]  # flat x1, y1, x2, y2, ...
    text_height: float  # of the word's ink, before the homography
    ink: np.ndarray  # bool mask of the letters (fill and outline)
    ink_offset: tuple[int, int]  # (x, y) of ink[0, 0] in the image

    @property
    def curved(self) -> bool:
        return self.layout in CURVED_LAYOUTS


@dataclass(frozen=True)
class CurvedScene:
    image: np.ndarray  # RGB uint8
    words: list[CurvedWord]
    dont_care: list[list[float]]  # the photo's own text regions
    photo: Path

    def instances(self) -> list[dict]:
        """Ground truth in the ``scenes.jsonl`` form: the words, then the don't-care regions."""
        words = [{"polygon": w.polygon, "text": w.text, "ignore": False} for w in self.words]
        regions = [{"polygon": p, "text": "###", "ignore": True} for p in self.dont_care]
        return words + regions


class CurvedSceneGenerator:
    """Makes scenes from the photos of a ``scenes.jsonl`` set, the fonts and the word lists."""

    def __init__(
        self,
        backgrounds: str | Path,
        fonts: Sequence[FontInfo] | None = None,
        words: Sequence[str] | None = None,
    ) -> None:
        self.photos = read_background_photos(backgrounds)
        self.fonts = WordRenderer(fonts, photos=[])  # its font choice, not its photos
        self.sampler = TextSampler(WORD_CONFIG, words)

    def photo_for(self, seed: int, index: int) -> BackgroundPhoto:
        """Photos in a shuffled order, each used once before any is used again."""
        order = np.random.default_rng(seed).permutation(len(self.photos))
        return self.photos[int(order[index % len(order)])]

    def scene(self, seed: int, index: int) -> CurvedScene:
        rng = np.random.default_rng([seed, index])
        photo = self.photo_for(seed, index)
        with Image.open(photo.path) as opened:
            image = np.asarray(opened.convert("RGB"))
        height, width = image.shape[:2]
        slanted = rng.random() < HOMOGRAPHY_SHARE
        homography = mild_homography(rng, width, height) if slanted else None
        taken = [Polygon(np.reshape(p, (-1, 2))).buffer(3) for p in photo.text_regions]
        target = int(rng.integers(1, MAX_WORDS + 1))
        canvas = image.astype(np.float32)
        words: list[CurvedWord] = []
        for _ in range(_ATTEMPTS):
            if len(words) >= target:
                break
            room, first = target - len(words), not words
            words += self._add_group(canvas, image, homography, taken, room, first, rng)
        if not words:
            raise RuntimeError(f"no room for a word on {photo.path}")
        rendered = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
        return CurvedScene(rendered, words, [list(p) for p in photo.text_regions], photo.path)

    def _add_group(self, canvas, image, homography, taken, room, first, rng) -> list[CurvedWord]:
        """One group of words on one curve, drawn onto the canvas; [] when it did not fit.

        ``taken`` holds the regions to keep clear (the photo's text, words placed before) and
        gets the group's polygons. The first group of a scene is curved.
        """
        layout = _pick(rng, LAYOUT_WEIGHTS)
        if layout == "line" and first:
            layout = "arc"
        count = 1 if layout == "line" else int(rng.integers(1, min(room, 3) + 1))
        texts = [self._text(rng) for _ in range(count)]
        style = self._style(texts, rng)
        words = LAYOUTS[layout](texts, style, rng)
        heights = [high - low for _, _, low, high in (w.ink_band() for w in words)]
        if not words or max(heights) > 1.05 * TEXT_HEIGHTS[1]:
            return []  # letters turned along a wave's crests can stand taller than drawn
        placed = self._place(words, image.shape, homography, taken, rng)
        if placed is None:
            return []
        masks = [draw_word(word, homography) for word, _ in placed]
        if any(ink_inside(m, p) < _MIN_INSIDE for m, (_, p) in zip(masks, placed)):
            return []
        paint = _choose_paint(image, [p for _, p in placed], style.stroke, rng)
        drawn = []
        for mask, (word, polygon), height in zip(masks, placed, heights):
            _paint_word(canvas, mask, paint, style.height, rng)
            taken.append(Polygon(polygon).buffer(3))
            flat = [int(v) for v in polygon.reshape(-1)]
            drawn.append(CurvedWord(word.text, word.layout, flat, height, mask.ink, mask.offset))
        return drawn

    def _text(self, rng: np.random.Generator) -> str:
        for _ in range(20):
            text = self.sampler.sample(rng)
            if any(c.isalnum() for c in text):
                return text
        return self.sampler.word(rng)

    def _style(self, texts: Sequence[str], rng: np.random.Generator) -> WordStyle:
        font = self.fonts.pick_font("".join(texts), rng)
        # The tallest word gets the drawn height, but no word leaves the range ("ace" and "Hey"
        # in one font differ by their ascenders and descenders).
        ratios = [_height_ratio(font.path, text) for text in texts]
        low, high = TEXT_HEIGHTS[0] / min(ratios), TEXT_HEIGHTS[1] / max(ratios)
        size = math.exp(rng.uniform(*np.log(TEXT_HEIGHTS))) / max(ratios)
        size = max(8, 2 * round(min(max(size, low), high) / 2))  # even: fewer glyphs to cache
        stroke = max(1, round(size * rng.uniform(0.03, 0.06))) if rng.random() < 0.3 else 0
        return WordStyle(font.path, size, stroke, size * rng.uniform(0.0, 0.12))

    def _place(self, words, shape, homography, taken, rng):
        """Words and their final polygons, moved to a free spot of the image; None if none."""
        local = [w.polygon() for w in words]
        low, high = np.concatenate(local).min(axis=0), np.concatenate(local).max(axis=0)
        border = 3.0
        limit = np.array([shape[1], shape[0]], dtype=np.float64) - 1 - border
        if np.any(high - low > limit - border):
            return None
        for _ in range(_SHIFTS):
            shift = rng.uniform(border - low, limit - high)
            polygons = [np.round(project(p + shift, homography)) for p in local]
            if _fits(words, polygons, shape, taken):
                return [(w.moved(shift), p) for w, p in zip(words, polygons)]
        return None


def _fits(words, polygons, shape, taken) -> bool:
    height, width = shape[:2]
    mine: list[Polygon] = []
    for word, points in zip(words, polygons):
        if points.min() < 0 or points[:, 0].max() > width - 1 or points[:, 1].max() > height - 1:
            return False
        region = Polygon(points)
        if not region.is_valid or region.area <= 0:
            return False
        if word.curved and bend(points) < MIN_BEND:
            return False
        if any(t.intersects(region) for t in taken) or any(m.intersects(region) for m in mine):
            return False
        mine.append(region.buffer(3))
    return True


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names])
    return names[int(np.searchsorted(np.cumsum(p) / p.sum(), rng.random(), side="right"))]


# --- writing a set ------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvedSetSummary:
    scenes: int
    words: int
    curved_words: int
    dont_care: int
    layouts: dict[str, int]
    text_heights: tuple[float, float]
    seconds: float

    def __str__(self) -> str:
        layouts = ", ".join(f"{k} {v}" for k, v in sorted(self.layouts.items()))
        low, high = self.text_heights
        return (
            f"{self.scenes} scenes, {self.words} words ({self.curved_words} curved: {layouts}), "
            f"text heights {low:.0f}-{high:.0f} px, {self.dont_care} don't-care regions, "
            f"{self.seconds:.1f} s"
        )


def write_curved_scenes(
    out_dir: str | Path, generator: CurvedSceneGenerator, count: int = 300, seed: int = 0
) -> CurvedSetSummary:
    """``out_dir/images/scene_NNNN.jpg`` and ``out_dir/scenes.jsonl`` for scenes 0..count-1."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    lines, layouts, heights, dont_care = [], Counter(), [], 0
    for index in range(count):
        scene = generator.scene(seed, index)
        name = f"images/scene_{index:04d}.jpg"
        Image.fromarray(scene.image).save(out_dir / name, quality=JPEG_QUALITY)
        lines.append(json.dumps({"file": name, "instances": scene.instances()}))
        layouts.update(w.layout for w in scene.words)
        heights += [w.text_height for w in scene.words]
        dont_care += len(scene.dont_care)
    (out_dir / "scenes.jsonl").write_text("".join(f"{line}\n" for line in lines), "utf-8")
    return CurvedSetSummary(
        scenes=count,
        words=sum(layouts.values()),
        curved_words=sum(v for k, v in layouts.items() if k in CURVED_LAYOUTS),
        dont_care=dont_care,
        layouts=dict(layouts),
        text_heights=(min(heights, default=0.0), max(heights, default=0.0)),
        seconds=time.perf_counter() - started,
    )
