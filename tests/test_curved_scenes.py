"""The curved-text development set: real photos with words set on arcs, circles and waves.

The ground truth is what makes the set worth having, so most tests are about the polygons:
they hold all the ink of their word and little else, follow the curve, and leave the photo's
own text to don't-care regions.
"""

import json
import os

import cv2
import numpy as np
import pytest
from conftest import DATA, DEJAVU, run_python
from PIL import Image
from shapely.geometry import Polygon

from pipeline.evaluation import SceneReport, read_scenes, score_scene
from recognizer.training.synth.curved_scenes import (
    CurvedSceneGenerator,
    read_background_photos,
    write_curved_scenes,
)
from recognizer.training.synth.fonts import discover_fonts

BACKGROUNDS = DATA / "icdar2015_dev_scenes" / "scenes.jsonl"
WIDTH, HEIGHT = 1280, 720
COUNT = 8
SEED = 3


@pytest.fixture(scope="module")
def fonts(tmp_path_factory):
    """DejaVu only: scanning it takes a moment, unlike the whole font tree on a fresh machine."""
    if not (DEJAVU / "DejaVuSans.ttf").is_file():
        pytest.skip(
            "DejaVu fonts missing: run recognizer/training/synth/install_training_assets.sh"
        )
    if not BACKGROUNDS.is_file():
        pytest.fail(f"missing {BACKGROUNDS}: the shared data must sit beside the repo")
    return discover_fonts([DEJAVU], cache_dir=tmp_path_factory.mktemp("font-cache"))


@pytest.fixture(scope="module")
def generator(fonts):
    return CurvedSceneGenerator(BACKGROUNDS, fonts=fonts)


@pytest.fixture(scope="module")
def written(generator, tmp_path_factory):
    out = tmp_path_factory.mktemp("curved")
    write_curved_scenes(out, generator, COUNT, SEED)
    return out


@pytest.fixture(scope="module")
def scenes(generator):
    return [generator.scene(SEED, i) for i in range(COUNT)]


@pytest.fixture(scope="module")
def words(scenes):
    return [word for scene in scenes for word in scene.words]


def records(folder):
    lines = (folder / "scenes.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def points(polygon) -> np.ndarray:
    return np.asarray(polygon, dtype=np.float64).reshape(-1, 2)


def edges(polygon) -> tuple[np.ndarray, np.ndarray]:
    """Top edge start to end, and bottom edge start to end (it is stored end to start)."""
    p = points(polygon)
    return p[: len(p) // 2], p[len(p) // 2 :][::-1]


def thickness(polygon) -> float:
    top, bottom = edges(polygon)
    return float(np.linalg.norm(top - bottom, axis=1).mean())


def ink_inside(word) -> float:
    inside = np.zeros(word.ink.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(points(word.polygon) - word.ink_offset).astype(np.int32)], 1)
    return float((word.ink & (inside > 0)).sum() / word.ink.sum())


def ink_band_area(word) -> float:
    """The area of the band along the curve that bounds the ink: its length times its height.

    The polygon's stations cut it into slices; in each slice the ink is measured along the
    slice and across it (from the bottom edge towards the top edge).
    """
    top, bottom = edges(word.polygon)
    rows, cols = np.nonzero(word.ink)
    ink = np.stack([cols, rows], axis=1) + word.ink_offset
    length, height = 0.0, 0.0
    for j in range(len(top) - 1):
        quad = np.array([top[j], top[j + 1], bottom[j + 1], bottom[j]]) - word.ink_offset
        mask = np.zeros(word.ink.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 1)
        share = ink[mask[rows, cols] > 0]
        if len(share) < 2:
            continue
        up = (top[j] + top[j + 1] - bottom[j] - bottom[j + 1]) / 2
        up /= np.linalg.norm(up)
        along = np.array([-up[1], up[0]])
        length += np.ptp(share @ along) + 1
        height = max(height, np.ptp(share @ up) + 1)
    return length * height


def bend(polygon) -> float:
    """The top edge's largest distance from the chord between its ends, per polygon height."""
    top, _ = edges(polygon)
    chord = top[-1] - top[0]
    rel = top - top[0]
    distance = np.abs(rel[:, 0] * chord[1] - rel[:, 1] * chord[0]) / np.linalg.norm(chord)
    return float(distance.max()) / thickness(polygon)


# --- the files ----------------------------------------------------------------------------


def test_the_set_has_the_format_of_the_icdar_scene_sets(written):
    lines = records(written)
    assert [r["file"] for r in lines] == [f"images/scene_{i:04d}.jpg" for i in range(COUNT)]
    for record in lines:
        assert set(record) == {"file", "instances"}
        with Image.open(written / record["file"]) as image:
            assert (image.format, image.size, image.mode) == ("JPEG", (WIDTH, HEIGHT), "RGB")
        assert any(not i["ignore"] for i in record["instances"])
        for instance in record["instances"]:
            assert set(instance) == {"polygon", "text", "ignore"}
            polygon = instance["polygon"]
            assert len(polygon) % 2 == 0 and len(polygon) >= 8
            assert all(isinstance(v, int) for v in polygon)
            p = points(polygon)
            assert (p >= 0).all() and (p[:, 0] <= WIDTH - 1).all() and (p[:, 1] <= HEIGHT - 1).all()
            assert isinstance(instance["text"], str) and isinstance(instance["ignore"], bool)


def test_the_written_ground_truth_is_that_of_the_generated_scenes(written, scenes):
    assert [r["instances"] for r in records(written)] == [s.instances() for s in scenes]


def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_ones(fonts, written, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    write_curved_scenes(again, CurvedSceneGenerator(BACKGROUNDS, fonts=fonts), COUNT, SEED)
    write_curved_scenes(other, CurvedSceneGenerator(BACKGROUNDS, fonts=fonts), COUNT, SEED + 1)
    names = ["scenes.jsonl"] + [f"images/scene_{i:04d}.jpg" for i in range(COUNT)]
    assert all((again / n).read_bytes() == (written / n).read_bytes() for n in names)
    assert (other / "scenes.jsonl").read_bytes() != (written / "scenes.jsonl").read_bytes()


def test_the_script_writes_what_the_library_writes(written, tmp_path):
    out = tmp_path / "script"
    done = run_python(
        "benchmarks/curved_scenes.py",
        *("--out", out, "--count", 2, "--seed", SEED, "--fonts", DEJAVU),
        env={**os.environ, "SYNTH_CACHE_DIR": str(tmp_path / "font-cache")},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "2 scenes" in done.stdout
    script_lines = (out / "scenes.jsonl").read_text().splitlines()
    assert script_lines == (written / "scenes.jsonl").read_text().splitlines()[:2]
    assert (out / "images/scene_0001.jpg").read_bytes() == (
        written / "images/scene_0001.jpg"
    ).read_bytes()


# --- the words and their polygons ----------------------------------------------------------


def test_scenes_hold_one_to_four_words_of_three_to_twelve_characters(scenes):
    for scene in scenes:
        assert 1 <= len(scene.words) <= 4
        for word in scene.words:
            assert 3 <= len(word.text) <= 12 and " " not in word.text
            assert any(c.isalnum() for c in word.text)


def test_word_polygons_are_simple_clockwise_and_apart(scenes):
    for scene in scenes:
        shapes = [Polygon(points(word.polygon)) for word in scene.words]
        for shape in shapes:
            assert shape.is_valid and shape.area > 0
            # Clockwise on screen (y down) is a positive shoelace sum.
            x, y = shape.exterior.coords.xy
            assert sum(x[i] * y[i + 1] - x[i + 1] * y[i] for i in range(len(x) - 1)) > 0
        for i, shape in enumerate(shapes):
            assert not any(shape.intersects(other) for other in shapes[i + 1 :])


def test_polygons_hold_all_the_ink_of_their_word(words):
    for word in words:
        assert word.ink.sum() > 0
        assert ink_inside(word) >= 0.98, word.text


def test_polygons_hold_little_besides_the_ink(words):
    for word in words:
        assert Polygon(points(word.polygon)).area <= 2.5 * ink_band_area(word), word.text
        # The margin around the ink is about an eighth of the text height on each side.
        assert thickness(word.polygon) <= 1.5 * (word.text_height + 4), word.text


def test_text_is_about_20_to_90_pixels_tall(words):
    heights = [w.text_height for w in words]
    assert min(heights) >= 18 and max(heights) <= 95


def test_curved_words_follow_their_curve(words):
    curved = [w for w in words if w.curved]
    assert len(curved) >= 0.8 * len(words)
    for word in curved:
        assert bend(word.polygon) > 0.15, word.text
    assert {w.layout for w in curved} == {"arc", "circle", "wave"}


def test_the_photos_own_text_regions_are_dont_care(scenes):
    photos = {p.path: p for p in read_background_photos(BACKGROUNDS)}
    for scene in scenes:
        original = photos[scene.photo].text_regions
        ignored = [i for i in scene.instances() if i["ignore"]]
        assert [i["polygon"] for i in ignored] == original
        assert all(i["text"] == "###" for i in ignored)
        regions = [Polygon(points(p)) for p in original]
        for word in scene.words:
            shape = Polygon(points(word.polygon))
            assert not any(shape.intersects(region) for region in regions), word.text


def test_the_evaluation_reads_the_set_and_scores_its_own_truth_perfect(written):
    report = SceneReport()
    for scene in read_scenes(written / "scenes.jsonl"):
        words = [i for i in scene["instances"] if not i["ignore"]]
        regions = [i["polygon"] for i in scene["instances"] if i["ignore"]]
        # Detections of the photo's own text fall in don't-care regions: not false positives.
        polygons = [w["polygon"] for w in words] + regions
        texts = [w["text"] for w in words] + ["x"] * len(regions)
        score_scene(report, scene, polygons, texts)
    assert report.images == COUNT
    assert report.detection.precision == report.detection.recall == 1.0
    assert report.end_to_end.precision == report.end_to_end.recall == 1.0
