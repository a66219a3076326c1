"""Finding the fonts that the synthetic renderer may draw words with.

A font is usable when PIL can load it and it draws ASCII letters and digits as distinct,
real glyphs: not the ``.notdef`` box, not blanks, not capitals in place of lowercase letters
(an all-caps font would teach the recognizer that "hello" looks like "HELLO"). Fonts named
like symbol, emoji, math, icon or music fonts are skipped before they are even opened, and
fonts whose Latin glyphs are pixel-identical to an earlier font's (Noto's per-script fonts
carry copies of Noto Sans' Latin; fonts-liberation and fonts-liberation2 overlap) are kept once.

Checking the ~1100 files that recognizer/training/synth/install_training_assets.sh installs
takes 15-25 s on one core, so the result is cached as JSON (``$SYNTH_CACHE_DIR``, else
~/.cache/ocr-synth), keyed on the paths, sizes and modification times of the font files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from recognizer.tokenizer import PRINTABLE_ASCII_94

# fonts-texgyre installs under texmf only.
DEFAULT_FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/usr/share/texmf/fonts/opentype",
)
FONT_SUFFIXES = (".ttf", ".otf")
# Bump when the checks change, so that old caches are not trusted.
_CHECK_VERSION = 5
_PROBE_SIZE = 32
ALNUM = PRINTABLE_ASCII_94[:62]

_EXCLUDED_NAME = re.compile(
    r"symbol|emoji|math|music|euterpe|icon|awesome|dingbat|d050000l|wingding|webding|glyphicon"
    r"|powerline|keyboard|braille|barcode|ornament|cursor|signwriting|pictograph|dseg|7segment",
    re.IGNORECASE,
)
# Display and script fonts too far from anything a photo shows to be worth learning from.
_ILLEGIBLE_NAME = re.compile(r"ferritecore|staypuft|isabella|ecolier", re.IGNORECASE)
# Glyphs that a font maps to the wrong shape (file-name prefix: characters to treat as missing).
_WRONG_GLYPHS = {"RadisSans": "$"}
# Pairs whose lowercase and capital shapes differ clearly in every ordinary Latin font.
_CASE_PAIRS = "abdeghnqrt"
_ABSENT_CHAR = "\U0010fffd"  # a private-use code point no text font maps


@dataclass(frozen=True)
class FontInfo:
    """One usable font file, with the characters of the 94-char charset it can draw."""

    path: str
    family: str
    style: str
    coverage: str

    def covers(self, text: str) -> bool:
        return all(c in self.coverage for c in text)


def font_files(roots: Iterable[str | Path] = DEFAULT_FONT_DIRS) -> list[str]:
    """Sorted, de-duplicated (by real path) TTF/OTF files under the roots."""
    found: set[str] = set()
    for root in roots:
        for directory, _, names in os.walk(root, followlinks=True):
            for name in names:
                if not name.lower().endswith(FONT_SUFFIXES):
                    continue
                if not (_EXCLUDED_NAME.search(name) or _ILLEGIBLE_NAME.search(name)):
                    found.add(os.path.realpath(os.path.join(directory, name)))
    return sorted(path for path in found if os.path.isfile(path))


def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A PIL font with the basic layout engine (fast; no shaping needed for Latin)."""
    return _load_font_cached(path, int(size))


@functools.lru_cache(maxsize=512)  # ~130 kB each
def _load_font_cached(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


def _draw(font: ImageFont.FreeTypeFont, text: str) -> np.ndarray:
    """The text's ink as an 8-bit array cropped to its bounding box."""
    left, top, right, bottom = font.getbbox(text)
    if right <= left or bottom <= top:
        return np.zeros((0, 0), dtype=np.uint8)
    image = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(image).text((-left, -top), text, font=font, fill=255)
    return np.asarray(image)


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> tuple[tuple[int, int], bytes]:
    ink = _draw(font, char)
    return (ink.shape[1], ink.shape[0]), ink.tobytes()


def _is_blank(glyph: tuple[tuple[int, int], bytes]) -> bool:
    (width, height), data = glyph
    return width == 0 or height == 0 or int(np.frombuffer(data, dtype=np.uint8).max()) < 64


def _shape(glyph: tuple[tuple[int, int], bytes]) -> np.ndarray:
    """Glyph ink cropped to its box and scaled to 16x16, as 0/1: compares shapes, not sizes."""
    (width, height), data = glyph
    ink = np.frombuffer(data, dtype=np.uint8).reshape(height, width) > 96
    rows, cols = np.nonzero(ink)
    if rows.size == 0:
        return np.zeros((16, 16), dtype=bool)
    box = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    image = Image.fromarray(box.astype(np.uint8) * 255).resize((16, 16), Image.BILINEAR)
    return np.asarray(image) > 127


def _looks_unicase(font: ImageFont.FreeTypeFont) -> bool:
    """True when lowercase letters are capitals or small capitals.

    Signs: ascender letters (b d h k l) no taller than x, as in small caps; c o s v w x z as
    tall as their capitals, as in caps-only fonts; lowercase shapes that match their capitals
    once scaled.
    """

    def height(char: str) -> int:
        _, top, _, bottom = font.getbbox(char)
        return max(bottom - top, 1)

    ascender_ratio = float(np.mean([height(c) for c in "bdhkl"])) / height("x")
    if ascender_ratio < 1.15:
        return True
    # Letters whose lowercase is a smaller copy of the capital: as tall as it in caps fonts.
    size_ratio = float(np.median([height(c) / height(c.upper()) for c in "cosvwxz"]))
    if size_ratio > 0.88:
        return True
    overlaps = []
    for lower in _CASE_PAIRS:
        a, b = _shape(_glyph(font, lower)), _shape(_glyph(font, lower.upper()))
        union = np.logical_or(a, b).sum()
        overlaps.append(np.logical_and(a, b).sum() / union if union else 1.0)
    return float(np.median(overlaps)) > 0.75


def check_font(path: str) -> FontInfo | None:
    """The font's FontInfo when it is usable for Latin words, else None."""
    try:
        font = ImageFont.truetype(path, _PROBE_SIZE, layout_engine=ImageFont.Layout.BASIC)
        family, style = font.getname()
        notdef = _glyph(font, _ABSENT_CHAR)
        glyphs = {c: _glyph(font, c) for c in PRINTABLE_ASCII_94}
    except (OSError, ValueError):
        return None
    wrong = "".join(v for k, v in _WRONG_GLYPHS.items() if Path(path).name.startswith(k))
    coverage = "".join(
        c for c, g in glyphs.items() if g != notdef and not _is_blank(g) and c not in wrong
    )
    if any(c not in coverage for c in ALNUM):
        return None
    if len({glyphs[c] for c in ALNUM}) < len(ALNUM) - 6:  # a few look-alikes (l I 1 O 0) only
        return None
    if _looks_unicase(font):
        return None
    family = family or Path(path).stem
    return FontInfo(path=path, family=family, style=style or "", coverage=coverage)


def _latin_fingerprint(path: str) -> str:
    font = ImageFont.truetype(path, _PROBE_SIZE, layout_engine=ImageFont.Layout.BASIC)
    ink = _draw(font, "Hamburgefonstiv 0123456789 QRgjy&")
    return hashlib.sha1(ink.tobytes() + repr(ink.shape).encode()).hexdigest()


def _cache_key(paths: Sequence[str]) -> str:
    digest = hashlib.sha1(f"v{_CHECK_VERSION}".encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def default_cache_dir() -> Path:
    base = os.environ.get("SYNTH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ocr-synth"
    )
    return Path(base)


def _scan(paths: Sequence[str]) -> list[FontInfo]:
    usable: list[FontInfo] = []
    seen: set[str] = set()
    for path in paths:  # sorted, so the first of identical fonts wins deterministically
        info = check_font(path)
        if info is None:
            continue
        fingerprint = _latin_fingerprint(path)
        if fingerprint not in seen:
            seen.add(fingerprint)
            usable.append(info)
    return usable


def discover_fonts(
    roots: Iterable[str | Path] = DEFAULT_FONT_DIRS,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> list[FontInfo]:
    """Usable fonts under the roots, sorted by path; cached in memory and on disk."""
    return list(_discover(tuple(str(r) for r in roots), str(cache_dir or ""), use_cache))


@functools.lru_cache(maxsize=8)
def _discover(roots: tuple[str, ...], cache_dir: str, use_cache: bool) -> tuple[FontInfo, ...]:
    paths = font_files(roots)
    cache_file = Path(cache_dir or default_cache_dir()) / f"fonts-{_cache_key(paths)}.json"
    if use_cache and cache_file.is_file():
        try:
            return tuple(FontInfo(**entry) for entry in json.loads(cache_file.read_text()))
        except (ValueError, TypeError):
            pass  # unreadable cache: scan again and overwrite it
    fonts = tuple(_scan(paths))
    if use_cache:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps([asdict(f) for f in fonts]))
            tmp.replace(cache_file)
        except OSError:
            pass  # a read-only home only costs a rescan next time
    return fonts


def font_families(fonts: Iterable[FontInfo]) -> dict[str, list[FontInfo]]:
    """Fonts grouped by family name, families and their members in sorted order."""
    families: dict[str, list[FontInfo]] = {}
    for font in sorted(fonts, key=lambda f: (f.family, f.style, f.path)):
        families.setdefault(font.family, []).append(font)
    return dict(sorted(families.items()))
