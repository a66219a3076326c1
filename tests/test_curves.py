"""Curved text: regions that follow the curve, cut into words along it, read straight.

Words are set on arcs here with known geometry (each letter turned to the arc's tangent), so
where the boundaries and the cuts must lie is known.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from pipeline.curves import TextBand, band_boundaries, band_polygon, bend
from pipeline.rectify import resample
from pipeline.word_splitting import WordSplitter

FONT_FILE = "DejaVuSans-Bold.ttf"


def _font(size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(FONT_FILE, size)
    except OSError:
        pytest.skip(f"font {FONT_FILE} not installed")


def text_on_arc(
    text: str,
    centre=(320.0, 420.0),
    radius: float = 260.0,
    size: int = 40,
    canvas=(640, 480),
    middle_angle: float = -90.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(image, ink mask): dark letters on a light canvas along the top of a circle, read
    left to right (the letters' tops face outwards), centred at ``middle_angle`` degrees."""
    font = _font(size)
    widths = [font.getlength(ch) for ch in text]
    spread = sum(widths) / radius  # radians the text covers
    angle = np.deg2rad(middle_angle) - spread / 2
    image = Image.new("L", canvas, 0)
    for ch, width in zip(text, widths):
        mid = angle + width / 2 / radius
        glyph = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(glyph).text((size, size), ch, font=font, fill=255, anchor="ms")
        turned = glyph.rotate(-np.rad2deg(mid) - 90, resample=Image.BICUBIC, center=(size, size))
        x = centre[0] + radius * np.cos(mid) - size
        y = centre[1] + radius * np.sin(mid) - size
        image.paste(turned, (int(round(x)), int(round(y))), turned)
        angle += width / radius
    mask = np.asarray(image) > 96
    pixels = np.where(mask[..., None], 30, 235).astype(np.uint8).repeat(3, axis=2)
    return pixels, mask


def arc_band(centre, inner: float, outer: float, start: float, end: float, points: int = 40):
    """The outline of a ring sector (degrees), as a detector would outline arched text."""
    angles = np.deg2rad(np.linspace(start, end, points))
    outer_edge = np.stack(
        [centre[0] + outer * np.cos(angles), centre[1] + outer * np.sin(angles)], 1
    )
    inner_edge = np.stack(
        [centre[0] + inner * np.cos(angles), centre[1] + inner * np.sin(angles)], 1
    )
    return np.vstack([outer_edge, inner_edge[::-1]]).astype(np.float32)


def test_a_straight_region_stays_the_quadrilateral_of_its_minimum_area_rectangle():
    outline = np.float32([[10, 10], [60, 8], [110, 11], [160, 9], [161, 40], [100, 42], [11, 41]])
    expected = cv2.boxPoints(cv2.minAreaRect(outline))
    assert np.allclose(band_polygon(outline), expected)
    assert band_polygon(outline, min_width=40) is None  # narrower than the minimum


def test_an_arched_region_becomes_its_top_edge_then_its_bottom_edge():
    centre, inner, outer = (320.0, 420.0), 230.0, 290.0
    outline = arc_band(centre, inner, outer, -140, -40)
    polygon = band_polygon(outline)
    assert len(polygon) >= 10 and len(polygon) % 2 == 0
    half = len(polygon) // 2
    top, bottom = polygon[:half], polygon[half:][::-1]
    radius = lambda p: np.linalg.norm(p - np.float32(centre), axis=1)  # noqa: E731
    # The text's top faces outwards on the top of a circle: the top edge is the outer one.
    assert np.allclose(radius(top)[1:-1], outer, atol=3)
    assert np.allclose(radius(bottom)[1:-1], inner, atol=3)
    # The ends are cut square, straight out from the last points to the tips.
    assert np.allclose(radius(top)[[0, -1]], outer, atol=0.3 * (outer - inner))
    assert np.all(np.diff(top[:, 0]) > 0)  # left to right
    assert bend(top, bottom) > 1


def test_a_band_bent_into_a_u_keeps_its_ends_apart():
    """Text round the bottom of a badge (a 170-degree turn): the boundaries are found by
    following the outline, not by slicing across one axis."""
    centre = np.float32([300, 200])
    top, bottom = band_boundaries(arc_band(centre, 150, 190, 5, 175))
    band = TextBand(resample(top, 21), resample(bottom, 21))
    assert np.linalg.norm(band.top[0] - band.top[-1]) > 250  # end to end, across the U
    assert 35 < band.height < 48  # the band's own thickness (40), not the U's height
    # Read left to right round the bottom, the letters' tops face the centre.
    radius = np.linalg.norm(band.top - centre, axis=1)
    assert np.allclose(radius[1:-1], 150, atol=3) and np.allclose(radius, 150, atol=0.4 * 40)


@pytest.fixture(scope="module")
def reader():
    import recognizer

    torch.set_num_threads(2)
    return recognizer.load("default")


@pytest.mark.parametrize("word", ["GARDEN", "Bakery"])
def test_a_word_on_an_arc_comes_out_straight_and_readable(word, reader):
    image, mask = text_on_arc(word)
    ys, xs = np.nonzero(mask)
    outline = cv2.convexHull(np.stack([xs, ys], 1).astype(np.float32))[:, 0]
    # Outline the ink as a detector would: the band around it, grown by a margin.
    polygon = band_polygon(_outline_of(mask, grow=8))
    assert len(polygon) > 4, "an arched word is a curved polygon"
    strip = TextBand.from_polygon(polygon).sample(image)
    straight_ink = strip[..., 0] < 128
    rows = np.flatnonzero(straight_ink.any(axis=1))
    # Straightened: the letters stand on one baseline, no taller than a line of the font.
    assert rows[-1] - rows[0] < 1.6 * 40
    assert reader.read([strip])[0].text == word
    assert cv2.pointPolygonTest(polygon, (float(outline[0][0]), float(outline[0][1])), False) >= 0


def _outline_of(mask: np.ndarray, grow: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    region = cv2.dilate(mask.astype(np.uint8), kernel)
    region = cv2.morphologyEx(
        region, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31))
    )
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return max(contours, key=cv2.contourArea)[:, 0].astype(np.float32)


def test_a_curved_line_is_cut_into_words_along_its_curve(reader):
    image, mask = text_on_arc("OPEN  DAILY", radius=300, size=36)
    line = band_polygon(_outline_of(mask, grow=14))
    assert len(line) > 4
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    words = WordSplitter().split(line, gray)
    assert len(words) == 2
    ink = np.stack(np.nonzero(mask)[::-1], 1).astype(np.float32)
    for word in words:  # each follows the curve: its edges bend with the line's
        top, bottom = _halves(word)
        assert (
            len(top) > 2
            and np.ptp(top[:, 1] - np.interp(top[:, 0], top[[0, -1], 0], top[[0, -1], 1])) > 2
        )
    # Every ink pixel lies in one word, the first word's left of the second's.
    inside = [
        np.array([cv2.pointPolygonTest(w, (float(x), float(y)), True) >= -1.5 for x, y in ink])
        for w in words
    ]
    assert np.mean(inside[0] | inside[1]) > 0.99
    assert not np.any(inside[0] & inside[1])
    texts = [reader.read([TextBand.from_polygon(w).sample(image)])[0].text for w in words]
    assert texts == ["OPEN", "DAILY"]


def _halves(polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = len(polygon) // 2
    return polygon[:half], polygon[half:][::-1]


def _detect(postprocessor, prob: np.ndarray) -> list[np.ndarray]:
    from mmocr.structures import TextDetDataSample  # after band_postprocessor's workarounds

    sample = TextDetDataSample(metainfo=dict(scale_factor=(1.0, 1.0)))
    found = postprocessor.get_text_instances(torch.from_numpy(prob), sample)
    return [np.asarray(p, np.float32).reshape(-1, 2) for p in found.pred_instances.polygons]


def test_db_post_processing_keeps_straight_regions_as_mmocr_and_follows_curved_ones():
    from pipeline.openmmlab.band_postprocessor import DBBandPostprocessor, DBPostprocessor

    settings = dict(mask_thr=0.3, min_text_score=0.7, unclip_ratio=1.6, epsilon_ratio=0.002)
    ours = DBBandPostprocessor(**settings)
    mmocr_quads = DBPostprocessor(text_repr_type="quad", **settings)

    prob = np.zeros((300, 600), np.float32)
    cv2.rectangle(prob, (40, 40), (300, 70), 1.0, -1)  # a straight line of text
    cv2.fillPoly(prob, [np.int32(arc_band((420, 330), 150, 175, -150, -30))], 1.0)  # arched
    cv2.rectangle(prob, (40, 250), (200, 251), 1.0, -1)  # a sliver, dropped as MMOCR drops it
    found = _detect(ours, prob)
    quads = _detect(mmocr_quads, prob)
    straight = [p for p in found if len(p) == 4]
    curved = [p for p in found if len(p) > 4]
    assert len(straight) == len(curved) == 1
    assert any(np.allclose(straight[0], q) for q in quads)  # exactly MMOCR's quadrilateral
    half = len(curved[0]) // 2
    assert bend(curved[0][:half], curved[0][half:][::-1]) > 1
