"""Rendering one word as a scene-text crop, the way a detector would cut it out of a photo.

:func:`render_word` draws the text with a random font, size and color on a background (plain,
gradient, noise texture or a crop of a real photo), bends it (rotation, shear, perspective,
arcs, letter spacing), decorates it (outline, shadow) and degrades it (blur, motion blur, noise,
low resolution, JPEG, occluding lines, uneven light), then crops around the word with jittered
padding. ``difficulty`` in [0, 1] scales how likely and how strong each of these is: 0 gives
clean dark text on a light plain background.

The work happens on small uint8/float32 arrays with PIL (text) and OpenCV (warps, filters) so
that one core renders several hundred crops per second. Call ``cv2.setNumThreads(0)`` in
processes that render in bulk: the arrays are too small for OpenCV's threads to pay.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .fonts import FontInfo, discover_fonts, font_families, load_font

# skimage.data photos without text in them (text.png, page.png, logo.png and the clock are not
# backgrounds: their letters would be unlabelled text in the crop).
SKIMAGE_PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "coffee.png",
    "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png",
    "motorcycle_left.png", "retina.jpg", "rocket.jpg",
)  # fmt: skip
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
FONT_SIZES = tuple(range(20, 50, 2))  # pixel sizes; even only, to keep the font cache small


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance in [0, 1] of RGB values in [0, 255] (last axis), on gamma values."""
    return rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32) / 255.0


def skimage_photo_dir() -> Path | None:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if folder.is_dir() else None


def load_background_photos(
    folders: Iterable[str | Path] = (), max_side: int = 512, include_skimage: bool = True
) -> list[np.ndarray]:
    """RGB uint8 photos to crop backgrounds from, scaled to at most ``max_side``.

    Photos come from scikit-image's sample data (when installed), the given folders and the
    folders in ``$SYNTH_BACKGROUND_DIRS`` (separated by ``os.pathsep``), in sorted order.
    """
    paths: list[Path] = []
    skimage_dir = skimage_photo_dir() if include_skimage else None
    if skimage_dir is not None:
        paths += [skimage_dir / name for name in SKIMAGE_PHOTOS if (skimage_dir / name).is_file()]
    extra = [*folders, *filter(None, os.environ.get("SYNTH_BACKGROUND_DIRS", "").split(os.pathsep))]
    for folder in extra:
        paths += sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    photos = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                image.thumbnail((max_side, max_side), Image.BILINEAR)
                photos.append(np.asarray(image).copy())
        except OSError:
            continue  # an unreadable photo is just not used
    return photos


class WordRenderer:
    """Renders word crops; holds the fonts and background photos it draws from."""

    def __init__(
        self,
        fonts: Sequence[FontInfo] | None = None,
        photos: Sequence[np.ndarray] | None = None,
    ) -> None:
        fonts = list(fonts) if fonts is not None else discover_fonts()
        if not fonts:
            raise RuntimeError(
                "no usable fonts found: run recognizer/training/synth/install_training_assets.sh"
            )
        self.families = list(font_families(fonts).values())
        full = [f for f in fonts if len(f.coverage) == 94]
        self.fallback = next((f for f in full if "DejaVuSans.ttf" in f.path), (full or fonts)[0])
        self.photos = list(photos) if photos is not None else load_background_photos()

    def render(self, text: str, rng: np.random.Generator, difficulty: float = 0.5) -> Image.Image:
        """The crop of ``text`` as an RGB image (height ~20-90 px, width by the text)."""
        if not text:
            raise ValueError("cannot render an empty text")
        d = _clamp(float(difficulty), 0.0, 1.0)
        font_info = self.pick_font(text, rng)
        size = FONT_SIZES[int(rng.integers(len(FONT_SIZES)))]
        font = load_font(font_info.path, size)

        stroke = 0
        if rng.random() < 0.15 * d:
            stroke = max(1, round(size * rng.uniform(0.03, 0.08)))
        spacing = 0.0
        if rng.random() < 0.05 + 0.25 * d and len(text) > 1:
            spacing = size * rng.uniform(-0.04, 0.1 + 0.3 * d)
        fill, outline, box = _text_masks(text, font, stroke, spacing)
        text_height = box[3] - box[1]

        if rng.random() < 0.1 * d and len(text) >= 3:
            fill, outline, box = _arc(fill, outline, rng.uniform(0.3, 0.5 + 0.9 * d), rng)
        geometry = _geometry(rng, d, box[2] - box[0])
        fill, outline, box = _warp(fill, outline, box, geometry, text_height)
        top, bottom, left, right = _crop_box(box, fill.shape, text_height, rng, d)
        fill, outline = fill[top:bottom, left:right], outline[top:bottom, left:right]

        shadow = (
            _shadow_alpha(outline if stroke else fill, text_height, rng)
            if (rng.random() < 0.2 * d)
            else None
        )
        image = self._compose(fill, outline if stroke else None, shadow, rng, d)
        image = degrade(image, text_height, rng, d)
        return Image.fromarray(image)

    def pick_font(self, text: str, rng: np.random.Generator) -> FontInfo:
        """A font that draws every character of the text: family uniformly, then a style."""
        for _ in range(12):
            family = self.families[int(rng.integers(len(self.families)))]
            font = family[int(rng.integers(len(family)))]
            if font.covers(text):
                return font
        return self.fallback

    # --- colors and backgrounds ---------------------------------------------------------

    def _compose(
        self,
        fill: np.ndarray,
        outline: np.ndarray | None,
        shadow: np.ndarray | None,
        rng: np.random.Generator,
        d: float,
    ) -> np.ndarray:
        height, width = fill.shape
        background, light = self._background(height, width, rng, d)
        # Contrast between text and background shrinks with difficulty but never vanishes.
        min_contrast = rng.uniform(0.45, 0.7) - 0.25 * d
        image = background.astype(np.float32)
        if shadow is not None:  # a dark shadow, also under light text on dark backgrounds
            image -= image * shadow[..., None]
        text_color = _contrasting_color(light, min_contrast, rng, d)
        if outline is not None:
            edge = (
                _contrasting_color(not light, 0.3, rng, d)
                if rng.random() < 0.5
                else (_contrasting_color(light, min_contrast + 0.15, rng, d))
            )
            alpha = outline.astype(np.float32) * (1 / 255.0)
            image += (edge - image) * alpha[..., None]
        if rng.random() < 0.1 * d:  # two-tone text
            other = _contrasting_color(light, min_contrast, rng, d)
            ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
            text_color = text_color + (other - text_color) * ramp
        alpha = fill.astype(np.float32) * (1 / 255.0)
        image += (text_color - image) * alpha[..., None]
        return np.clip(image, 0, 255).astype(np.uint8)

    def _background(
        self, height: int, width: int, rng: np.random.Generator, d: float
    ) -> tuple[np.ndarray, bool]:
        """A background and whether it is light (so text must be dark)."""
        light = rng.random() >= 0.45 * d  # at d=0 always light: dark text on white-ish paper
        kind = _pick_weighted(
            rng,
            plain=1.0 - 0.7 * d,
            gradient=0.1 + 0.2 * d,
            texture=0.4 * d,
            photo=0.6 * d if self.photos else 0.0,
        )
        if kind == "photo":
            return self._photo_background(height, width, light, rng, d), light
        base = _background_color(light, rng, d)
        if kind == "plain":
            return np.broadcast_to(base, (height, width, 3)), light
        if kind == "gradient":
            other = _background_color(light, rng, d)
            return _gradient(height, width, base, other, rng), light
        return _texture(height, width, base, light, rng, d), light

    def _photo_background(
        self, height: int, width: int, light: bool, rng: np.random.Generator, d: float
    ) -> np.ndarray:
        photo = self.photos[int(rng.integers(len(self.photos)))]
        ph, pw = photo.shape[:2]
        scale = rng.uniform(0.5, 2.0) * max(height / ph, width / pw, 0.05)
        ch, cw = min(ph, max(2, round(height / scale))), min(pw, max(2, round(width / scale)))
        y, x = int(rng.integers(ph - ch + 1)), int(rng.integers(pw - cw + 1))
        patch = cv2.resize(photo[y : y + ch, x : x + cw], (width, height), cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        if rng.random() < 0.3:
            patch = patch[..., rng.permutation(3)]
        # Squeeze the photo into the light or dark half of the range, leaving room for text;
        # the squeeze loosens with difficulty, so harder crops have busier backgrounds.
        spread = rng.uniform(0.2, 0.3 + 0.2 * d)
        floor = rng.uniform(1.0 - spread - 0.05, 1.0 - spread) if light else rng.uniform(0, 0.05)
        return (patch.astype(np.float32) * spread + 255.0 * floor).clip(0, 255)


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def _pick_weighted(rng: np.random.Generator, **weights: float) -> str:
    names = list(weights)
    total = sum(weights.values())
    point = rng.random() * total
    for name in names:
        point -= weights[name]
        if point < 0:
            return name
    return names[-1]


def _background_color(light: bool, rng: np.random.Generator, d: float) -> np.ndarray:
    """A background color: near-white/near-black, tinted more often as difficulty grows."""
    color = rng.uniform(0, 255, 3).astype(np.float32)
    saturation = rng.uniform(0, 0.15 + 0.7 * d)
    gray = float(_luminance(color)) * 255.0
    color = gray + (color - gray) * saturation
    target = rng.uniform(0.82 - 0.2 * d, 1.0) if light else rng.uniform(0.0, 0.18 + 0.15 * d)
    return _with_luminance(color, target)


def _contrasting_color(
    light_background: bool, min_contrast: float, rng: np.random.Generator, d: float
) -> np.ndarray:
    """A text color whose luminance is at least ``min_contrast`` away from the background's.

    Backgrounds are built to sit in the light (>= ~0.6) or dark (<= ~0.35) range, so the text
    luminance is drawn from the opposite end.
    """
    color = rng.uniform(0, 255, 3).astype(np.float32)
    if rng.random() < 0.5 - 0.3 * d:  # plenty of black, white and greys, as in real signs
        color[:] = color.mean()
    if light_background:
        target = rng.uniform(0.0, max(0.6 - min_contrast, 0.02))
    else:
        target = rng.uniform(min(0.4 + min_contrast, 0.98), 1.0)
    return _with_luminance(color, target)


def _with_luminance(color: np.ndarray, target: float) -> np.ndarray:
    """The color darkened towards black or lightened towards white to the target luminance."""
    current = float(_luminance(color))
    if current > target:
        return color * (target / max(current, 1e-6))
    return 255.0 - (255.0 - color) * ((1.0 - target) / max(1.0 - current, 1e-6))


def _gradient(
    height: int, width: int, start: np.ndarray, end: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    angle = rng.uniform(0, 2 * math.pi)
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None] * (height / max(width, 1))
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
    ramp = xs * math.cos(angle) + ys * math.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    return start + (end - start) * ramp[..., None]


def _texture(
    height: int, width: int, base: np.ndarray, light: bool, rng: np.random.Generator, d: float
) -> np.ndarray:
    """Blotchy low-frequency noise with fine grain, like paper, concrete or painted metal."""
    cells = (max(2, height // int(rng.integers(4, 16))), max(2, width // int(rng.integers(4, 16))))
    blotches = rng.standard_normal((*cells, 1), dtype=np.float32)
    if rng.random() < 0.5:  # colored blotches
        blotches = blotches + 0.5 * rng.standard_normal((*cells, 3), dtype=np.float32)
    field = cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    if field.ndim == 2:
        field = field[..., None]
    amplitude = rng.uniform(6, 14 + 30 * d)
    grain = rng.standard_normal((height, width, 1), dtype=np.float32) * rng.uniform(1, 3 + 5 * d)
    texture = base + field * amplitude + grain
    if rng.random() < 0.25:  # stripes: wood grain, corrugated metal, ruled paper
        period = rng.uniform(3, 12)
        phase = np.arange(height if rng.random() < 0.5 else width, dtype=np.float32)
        wave = np.sin(phase * (2 * math.pi / period)).astype(np.float32) * rng.uniform(4, 12)
        texture = texture + (wave[:, None, None] if wave.size == height else wave[None, :, None])
    # Keep the texture on its side of the range so the text color still contrasts.
    low, high = (150.0, 255.0) if light else (0.0, 105.0)
    return np.clip(texture, low, high)


# --- the text itself ---------------------------------------------------------------------


@functools.lru_cache(maxsize=16384)
def _x_extent(path: str, size: int) -> tuple[int, int]:
    """Top and bottom of "x" in the font."""
    _, top, _, bottom = load_font(path, size).getbbox("x")
    return top, bottom


def _text_masks(
    text: str, font: ImageFont.FreeTypeFont, stroke: int, spacing: float
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """Fill and outline masks of the text, and its box (x0, y0, x1, y1) in them.

    The box spans the ink horizontally and at least the x-height vertically, so "." or "-"
    get a box of a sensible height, as a detector would give them.
    """
    ref_top, ref_bottom = _x_extent(font.path, font.size)
    if spacing == 0.0:
        left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
        positions = [(0.0, text)]
    else:
        positions, x = [], 0.0
        for char in text:
            positions.append((x, char))
            x += font.getlength(char) + spacing
        boxes = [(font.getbbox(c, stroke_width=stroke), px) for px, c in positions]
        left = min(b[0] + px for b, px in boxes)
        right = max(b[2] + px for b, px in boxes)
        top, bottom = min(b[1] for b, _ in boxes), max(b[3] for b, _ in boxes)
    top, bottom = min(top, ref_top - stroke), max(bottom, ref_bottom + stroke)
    margin = 2 + stroke
    size = (int(math.ceil(right - left)) + 2 * margin, int(bottom - top) + 2 * margin)
    origin = (margin - left, margin - top)
    fill = Image.new("L", size, 0)
    draw = ImageDraw.Draw(fill)
    outline = None
    if stroke:
        outline = Image.new("L", size, 0)
        outline_draw = ImageDraw.Draw(outline)
    for x, chunk in positions:
        xy = (origin[0] + x, origin[1])
        draw.text(xy, chunk, font=font, fill=255)
        if stroke:
            outline_draw.text(xy, chunk, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    fill_array = np.asarray(fill)
    outline_array = np.asarray(outline) if stroke else fill_array
    box = (float(margin), float(margin), float(size[0] - margin), float(size[1] - margin))
    return fill_array, outline_array, box


def _geometry(rng: np.random.Generator, d: float, text_width: float) -> np.ndarray | None:
    """A 3x3 transform about the origin (rotation, shear, stretch, perspective), or None."""
    matrix = np.eye(3)
    changed = False
    if rng.random() < 0.15 + 0.6 * d:
        limit = 1.0 + 9.0 * d
        angle = math.radians(_clamp(rng.normal(0, limit / 2), -limit, limit))
        c, s = math.cos(angle), math.sin(angle)
        matrix = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ matrix
        changed = True
    if rng.random() < 0.1 + 0.25 * d:
        shear = rng.uniform(-0.1 - 0.25 * d, 0.1 + 0.25 * d)
        matrix = np.array([[1, shear, 0], [0, 1, 0], [0, 0, 1]]) @ matrix
        changed = True
    if rng.random() < 0.2 + 0.2 * d:
        stretch = rng.uniform(0.8, 1.25)
        matrix = np.diag([stretch, 1.0, 1.0]) @ matrix
        changed = True
    if rng.random() < 0.3 * d:
        # Seen from the side (projective term): the ends' scales differ by up to ~1.7x.
        tilt = rng.uniform(-1, 1) * (0.05 + 0.2 * d) / max(text_width / 2, 1.0)
        matrix = np.array([[1, 0, 0], [0, 1, 0], [tilt, 0, 1]]) @ matrix
        changed = True
    return matrix if changed else None


def _warp(
    fill: np.ndarray,
    outline: np.ndarray,
    box: tuple[float, float, float, float],
    geometry: np.ndarray | None,
    text_height: float,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """The masks transformed (about the box center) onto a canvas with room for padding."""
    margin = int(math.ceil(0.5 * text_height)) + 4
    x0, y0, x1, y1 = box
    if geometry is None:
        padded_fill = cv2.copyMakeBorder(fill, margin, margin, margin, margin, cv2.BORDER_CONSTANT)
        padded_outline = (
            padded_fill
            if outline is fill
            else cv2.copyMakeBorder(outline, margin, margin, margin, margin, cv2.BORDER_CONSTANT)
        )
        return padded_fill, padded_outline, (x0 + margin, y0 + margin, x1 + margin, y1 + margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    centerd = geometry @ np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], dtype=np.float64)
    mapped = corners @ centerd.T
    mapped = mapped[:, :2] / mapped[:, 2:3]
    low, high = mapped.min(axis=0), mapped.max(axis=0)
    shift = np.array([[1, 0, margin - low[0]], [0, 1, margin - low[1]], [0, 0, 1]])
    full = shift @ centerd
    size = (
        int(math.ceil(high[0] - low[0])) + 2 * margin,
        int(math.ceil(high[1] - low[1])) + 2 * margin,
    )
    warped_fill = cv2.warpPerspective(fill, full, size, flags=cv2.INTER_LINEAR)
    warped_outline = (
        warped_fill
        if outline is fill
        else cv2.warpPerspective(outline, full, size, flags=cv2.INTER_LINEAR)
    )
    moved = (float(margin), float(margin), margin + high[0] - low[0], margin + high[1] - low[1])
    return warped_fill, warped_outline, moved


def _arc(
    fill: np.ndarray, outline: np.ndarray, span: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """The masks bent along a circular arc that subtends ``span`` radians (either way up)."""
    height, width = fill.shape
    radius = width / span + height / 2
    sign = 1.0 if rng.random() < 0.5 else -1.0  # 1: arch (center below), -1: smile
    # Forward map of the mask outline, to size the canvas.
    us = np.concatenate([np.linspace(0, width, 16)] * 2)
    vs = np.repeat([0.0, float(height)], 16)
    theta = (us - width / 2) / radius
    r = radius + sign * (height / 2 - vs)
    xs, ys = r * np.sin(theta), -sign * r * np.cos(theta)
    x_min, y_min = xs.min() - 2, ys.min() - 2
    out_w, out_h = int(math.ceil(xs.max() - x_min)) + 3, int(math.ceil(ys.max() - y_min)) + 3
    grid_x, grid_y = np.meshgrid(
        np.arange(out_w, dtype=np.float32) + np.float32(x_min),
        np.arange(out_h, dtype=np.float32) + np.float32(y_min),
    )
    rr = np.hypot(grid_x, grid_y)
    map_u = np.arctan2(grid_x, -sign * grid_y) * radius + width / 2
    map_v = height / 2 - sign * (rr - radius)
    map_u, map_v = map_u.astype(np.float32), map_v.astype(np.float32)
    bent_fill = cv2.remap(fill, map_u, map_v, cv2.INTER_LINEAR, borderValue=0)
    bent_outline = (
        bent_fill if outline is fill else cv2.remap(outline, map_u, map_v, cv2.INTER_LINEAR)
    )
    ink = cv2.boundingRect(cv2.threshold(bent_outline, 40, 255, cv2.THRESH_BINARY)[1])
    x, y, w, h = ink
    return bent_fill, bent_outline, (float(x), float(y), float(x + w), float(y + h))


def _crop_box(
    box: tuple[float, float, float, float],
    shape: tuple[int, int],
    text_height: float,
    rng: np.random.Generator,
    d: float,
) -> tuple[int, int, int, int]:
    """Crop rows/columns around the text box with jittered padding, like a detector's crop."""
    x0, y0, x1, y1 = box
    pad_top, pad_bottom = rng.uniform(0.02, 0.12 + 0.2 * d, 2) * text_height
    pad_left, pad_right = rng.uniform(0.04, 0.15 + 0.3 * d, 2) * text_height + 1.0
    if rng.random() < 0.2 * d:  # tight vertical crops shave the tips of tall letters
        pad_top, pad_bottom = rng.uniform(-0.04, 0.0, 2) * text_height
    height, width = shape
    top = int(_clamp(round(y0 - pad_top), 0, height - 2))
    bottom = int(_clamp(round(y1 + pad_bottom), top + 2, height))
    left = int(_clamp(round(x0 - pad_left), 0, width - 2))
    right = int(_clamp(round(x1 + pad_right), left + 2, width))
    return top, bottom, left, right


def _shadow_alpha(mask: np.ndarray, text_height: float, rng: np.random.Generator) -> np.ndarray:
    """A soft offset copy of the text mask, as float alpha in [0, 1]."""
    reach = max(1.0, text_height * 0.08)
    dx, dy = rng.uniform(-reach, reach), rng.uniform(0.3 * reach, reach)
    shifted = cv2.warpAffine(mask, np.float32([[1, 0, dx], [0, 1, dy]]), mask.shape[::-1])
    sigma = rng.uniform(0.1, 1.0) * reach
    soft = cv2.GaussianBlur(shifted, (0, 0), sigma) if sigma > 0.3 else shifted
    return soft.astype(np.float32) * (rng.uniform(0.4, 0.9) / 255.0)


# --- degradations ------------------------------------------------------------------------


def degrade(
    image: np.ndarray, text_height: float, rng: np.random.Generator, d: float
) -> np.ndarray:
    """Camera and scene effects, each with a probability and a strength growing with d."""
    if d <= 0.0:
        return image
    scale = text_height / 32.0
    height, width = image.shape[:2]
    if rng.random() < 0.25 * d:
        image = _uneven_light(image, rng, d)
    if rng.random() < 0.15 * d:
        image = _occlusion_lines(image, text_height, rng)
    if rng.random() < 0.4 * d:
        sigma = rng.uniform(0.3, 0.5 + 1.0 * d) * scale
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    elif rng.random() < 0.2 * d:
        image = _motion_blur(image, max(3, round(rng.uniform(2, 2 + 5 * d) * scale)), rng)
    if rng.random() < 0.35 * d and height >= 16:
        factor = rng.uniform(max(0.3, 12.0 / height), 0.85)
        small = (max(4, round(width * factor)), max(6, round(height * factor)))
        image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
        up = cv2.INTER_NEAREST if rng.random() < 0.2 else cv2.INTER_LINEAR
        image = cv2.resize(image, (width, height), interpolation=up)
    if rng.random() < 0.4 * d:
        sigma = rng.uniform(2.0, 3.0 + 14.0 * d)
        noise = rng.standard_normal((height, width, 1 if rng.random() < 0.5 else 3), np.float32)
        image = np.clip(image + noise * sigma, 0, 255).astype(np.uint8)
    if rng.random() < 0.3 * d:
        image = _contrast_jitter(image, rng, d)
    if rng.random() < 0.4 * d:
        quality = int(rng.integers(max(8, round(75 - 60 * d)), 90))
        ok, encoded = cv2.imencode(".jpg", image, (cv2.IMWRITE_JPEG_QUALITY, quality))
        if ok:
            image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)  # BGR order is kept as RGB order
    return image


def _uneven_light(image: np.ndarray, rng: np.random.Generator, d: float) -> np.ndarray:
    height, width = image.shape[:2]
    low = 1.0 - rng.uniform(0.1, 0.2 + 0.3 * d)
    light = _gradient(height, width, np.float32([low] * 3), np.float32([1.0] * 3), rng)
    return np.clip(image * light, 0, 255).astype(np.uint8)


def _occlusion_lines(image: np.ndarray, text_height: float, rng: np.random.Generator) -> np.ndarray:
    """One or two thin lines across the crop: wires, poles, cracks, edges of other objects."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    for _ in range(int(rng.integers(1, 3))):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        thickness = max(1, round(text_height * rng.uniform(0.02, 0.06)))
        if rng.random() < 0.5:  # mostly horizontal
            start = (0, int(rng.integers(height)))
            end = (width - 1, int(_clamp(start[1] + rng.normal(0, height / 4), 0, height - 1)))
        else:
            start = (int(rng.integers(width)), 0)
            end = (int(_clamp(start[0] + rng.normal(0, height / 2), 0, width - 1)), height - 1)
        cv2.line(image, start, end, color, thickness, cv2.LINE_AA)
    return image


def _motion_blur(image: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180), 1)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6))


def _contrast_jitter(image: np.ndarray, rng: np.random.Generator, d: float) -> np.ndarray:
    gain = rng.uniform(1.0 - 0.35 * d, 1.0 + 0.2 * d)
    bias = rng.uniform(-25, 25) * d
    mean = float(image.mean())
    return np.clip((image - mean) * gain + mean + bias, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def default_renderer() -> WordRenderer:
    """The renderer over the discovered fonts and the default photos (built once)."""
    return WordRenderer()


def render_word(text: str, rng: np.random.Generator, difficulty: float = 0.5) -> Image.Image:
    """The crop of ``text`` drawn by :func:`default_renderer`; see :class:`WordRenderer`."""
    return default_renderer().render(text, rng, difficulty)


def contact_sheet(
    renderer: WordRenderer,
    texts: Sequence[str],
    rng: np.random.Generator,
    difficulties: Sequence[float],
    columns: int = 4,
    cell: tuple[int, int] = (256, 64),
) -> Image.Image:
    """A grid of rendered crops, each above its 32x128 input and its label, for eyeballing."""
    width, height = cell
    rows = math.ceil(len(texts) / columns)
    sheet = Image.new("RGB", (columns * (width + 8), rows * (height + 40)), (110, 110, 110))
    draw = ImageDraw.Draw(sheet)
    for i, (text, difficulty) in enumerate(zip(texts, difficulties)):
        crop = renderer.render(text, rng, difficulty)
        scale = min(width / crop.width, height / crop.height)
        shown = crop.resize((max(1, int(crop.width * scale)), max(1, int(crop.height * scale))))
        x, y = (i % columns) * (width + 8), (i // columns) * (height + 40)
        sheet.paste(shown, (x, y))
        sheet.paste(crop.resize((128, 32), Image.BICUBIC), (x, y + height + 4))
        draw.text((x + 132, y + height + 6), text, fill=(255, 255, 0))
        draw.text((x + 132, y + height + 20), f"d={difficulty:.2f}", fill=(200, 200, 200))
    return sheet
