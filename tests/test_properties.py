"""Property-based tests: odd images, polygons and results give the documented outcome.

Image loading returns an HxWx3 uint8 picture or raises ``ImageError``; rectification, word
splitting and layout accept any polygon and keep their results where they promise; a
result's JSON keeps every polygon inside the image, reads back to itself, and a malformed
one is refused with ``ValueError``. The last tests run the loader fuzzer
(``benchmarks/fuzz_loaders.py``) for a few seconds, and replay what it found.

Examples are derived from the test's name (``derandomize``) and no example database is
kept, so every run, here or in CI, tries the same inputs.
"""

import copy
import importlib.util
import io
import json
import pickle
import pickletools
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from pipeline.layout import enclosing_rectangle, group_into_blocks, group_into_lines
from pipeline.photos import load_photo
from pipeline.rectify import rectify_polygon
from pipeline.result import OCRResult, Word, assemble_page
from pipeline.stages import Detection
from pipeline.word_splitting import WordSplitter
from recognizer.checkpoint import read_checkpoint
from recognizer.images import as_rgb_image, open_image
from recognizer.interface import CheckpointError, ImageError

REPO = Path(__file__).resolve().parents[1]

PROPERTY = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def examples(count: int) -> settings:
    return settings(PROPERTY, max_examples=count)


def assert_rgb_picture(pixels, height=None, width=None) -> None:
    """An HxWx3 uint8 array of at least one pixel (of the given size, when given)."""
    assert isinstance(pixels, np.ndarray)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.shape[0] >= 1 and pixels.shape[1] >= 1
    if height is not None:
        assert pixels.shape[:2] == (height, width)


# ------------------------------------------------------------------ image loading

DTYPES = [np.uint8, np.uint16, np.int32, np.float16, np.float32, np.float64, np.bool_]
SHAPES = st.one_of(
    st.tuples(st.integers(0, 6), st.integers(0, 6)),
    st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 5)),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3),
)


def _elements(dtype):
    if np.issubdtype(dtype, np.floating):
        width = np.finfo(dtype).bits
        return st.floats(allow_nan=True, allow_infinity=True, width=width)
    return None


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(SHAPES)
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))


def _is_image_array(array: np.ndarray) -> bool:
    """What ``array_to_image`` documents as an image: HxW, HxWx1, HxWx3 or HxWx4, uint8 or
    float, at least one pixel."""
    channels_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))
    dtype_ok = array.dtype == np.uint8 or np.issubdtype(array.dtype, np.floating)
    return channels_ok and dtype_ok and array.size > 0


@examples(250)
@given(arrays())
def test_any_array_becomes_an_rgb_picture_or_an_image_error(array):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # NaN must not reach a cast
        for load in (as_rgb_image, load_photo):
            try:
                result = load(array)
            except ImageError:
                assert not _is_image_array(array)
                continue
            assert _is_image_array(array)
            assert_rgb_picture(np.asarray(result), array.shape[0], array.shape[1])
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3 and array.size:
        assert np.array_equal(load_photo(array), array)  # RGB pixels pass through untouched


@st.composite
def pil_images(draw):
    mode = draw(st.sampled_from(sorted(Image.MODES)))
    size = (draw(st.integers(0, 5)), draw(st.integers(0, 5)))
    if size[0] * size[1] == 0:
        return Image.new(mode, size)
    length = len(Image.new(mode, size).tobytes())
    image = Image.frombytes(mode, size, draw(st.binary(min_size=length, max_size=length)))
    if mode in ("1", "L", "P", "I") and draw(st.booleans()):
        image.info["transparency"] = 0
    return image


@examples(200)
@given(pil_images())
def test_a_pil_image_of_any_mode_becomes_an_rgb_picture(image):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        if image.width == 0 or image.height == 0:
            with pytest.raises(ImageError):
                as_rgb_image(image)
            return
        assert as_rgb_image(image).mode == "RGB"
        assert_rgb_picture(load_photo(image), image.height, image.width)


def test_nan_pixels_come_out_black_and_infinities_clipped_without_a_warning():
    floats = np.array([[np.nan, np.inf, -np.inf, 0.5, 1.0, 0.0]], np.float32)
    deep = Image.fromarray(np.array([[np.nan, 0.0, 255.0, 128.0]], np.float32))  # mode F
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert load_photo(floats)[0, :, 0].tolist() == [0, 255, 0, 128, 255, 0]
        assert load_photo(deep)[0, :, 0].tolist() == [0, 0, 255, 128]


# (container, mode) pairs PIL writes; each file is read back at its own size.
SAVABLE = [("PNG", mode) for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")] + [
    ("JPEG", "L"),
    ("JPEG", "RGB"),
    ("JPEG", "CMYK"),
    ("TIFF", "1"),
    ("TIFF", "L"),
    ("TIFF", "LA"),
    ("TIFF", "RGB"),
    ("TIFF", "RGBA"),
    ("TIFF", "CMYK"),
    ("TIFF", "I"),
    ("TIFF", "I;16"),
    ("TIFF", "P"),
    ("TIFF", "F"),
    ("TIFF", "LAB"),
    ("TIFF", "YCbCr"),
    ("WEBP", "RGB"),
    ("WEBP", "RGBA"),
    ("GIF", "P"),
    ("GIF", "L"),
    ("BMP", "1"),
    ("BMP", "L"),
    ("BMP", "P"),
    ("BMP", "RGB"),
]
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "GIF": ".gif"}


@st.composite
def image_files(draw):
    """(file bytes, suffix, size) of a small image written by PIL."""
    container, mode = draw(st.sampled_from(SAVABLE))
    size = (draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    seed = draw(st.integers(0, 2**16))
    noise = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(Image.fromarray(noise).convert("L"), np.uint16) * 257)
    elif mode in ("I", "F"):
        image = Image.fromarray(noise).convert("L").convert(mode)
    else:
        image = Image.fromarray(noise).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, container)
    return buffer.getvalue(), SUFFIX.get(container, ".bmp"), size


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("photos")


@examples(120)
@given(image_files())
def test_every_format_and_mode_reads_back_at_its_size(folder, written):
    data, suffix, (width, height) = written
    path = folder / f"photo{suffix}"
    path.write_bytes(data)
    assert open_image(path).mode == "RGB"
    assert_rgb_picture(load_photo(path), height, width)


@st.composite
def damaged(draw, files):
    data, suffix, _ = draw(files)
    damage = draw(st.sampled_from(["truncate", "flip", "overwrite", "splice"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip":
        out = bytearray(data)
        for offset in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            out[offset] ^= 1 << draw(st.integers(0, 7))
        data = bytes(out)
    elif damage == "overwrite":
        offset = draw(st.integers(0, len(data) - 1))
        data = data[:offset] + draw(st.binary(min_size=1, max_size=16)) + data[offset + 16 :]
    else:
        other, _, _ = draw(files)
        data = other[: draw(st.integers(1, 64))] + data[draw(st.integers(0, 64)) :]
    return data, suffix


@examples(250)
@given(damaged(image_files()))
def test_damaged_files_give_an_rgb_picture_or_an_image_error(folder, broken):
    data, suffix = broken
    path = folder / f"broken{suffix}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL warns about what it repairs
        try:
            pixels = load_photo(path, max_pixels=1_000_000)
        except ImageError as error:
            assert str(path) in str(error)
            return
    assert_rgb_picture(pixels)
    assert pixels.shape[0] * pixels.shape[1] <= 1_000_000


# ------------------------------------------------------------------ geometry


@st.composite
def pictures(draw, max_side=40):
    height, width = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.integers(0, 256, (height, width, 3), np.uint8)


@st.composite
def polygons(draw, height: int, width: int, min_points: int = 3, max_points: int = 16):
    """Points anywhere from well outside the image to inside it: scattered, on one line,
    repeated, or all in one place."""
    count = draw(st.integers(min_points, max_points))
    span = 3 * max(height, width)
    coordinate = st.floats(-span, span + max(height, width), allow_nan=False, width=32)
    shape = draw(st.sampled_from(["scattered", "collinear", "repeated", "point"]))
    if shape == "collinear":
        start = np.array([draw(coordinate), draw(coordinate)])
        step = np.array([draw(coordinate), draw(coordinate)]) / count
        points = [start + step * draw(st.integers(0, count)) for _ in range(count)]
    elif shape == "point":
        points = [[draw(coordinate), draw(coordinate)]] * count
    else:
        pool = [[draw(coordinate), draw(coordinate)] for _ in range(count)]
        if shape == "repeated":
            pool = [draw(st.sampled_from(pool)) for _ in range(count)]
        points = pool
    return np.asarray(points, np.float32).reshape(-1, 2)


def _perimeter(polygon: np.ndarray) -> float:
    return float(np.linalg.norm(np.roll(polygon, -1, axis=0) - polygon, axis=1).sum())


@examples(300)
@given(st.data())
def test_rectifying_any_polygon_gives_an_rgb_crop_of_bounded_size(data):
    image = data.draw(pictures())
    polygon = data.draw(polygons(*image.shape[:2]))
    crop = rectify_polygon(image, polygon)
    assert_rgb_picture(crop.image)
    height, width = crop.image.shape[:2]
    assert max(height, width) <= _perimeter(polygon) + 16  # no blow-up past the region
    assert crop.vertical == (height > 1.5 * width)


@pytest.mark.parametrize("points", [[], [[1, 2]], [[1, 2], [3, 4]]])
def test_fewer_than_three_points_are_refused_with_a_value_error(points):
    with pytest.raises(ValueError, match="at least 3 points"):
        rectify_polygon(np.zeros((8, 8, 3), np.uint8), points)


def _within_rectangle(points: np.ndarray, rectangle: np.ndarray, tolerance: float) -> bool:
    """Whether every point is inside ``rectangle`` or at most ``tolerance`` outside it."""
    contour = np.asarray(rectangle, np.float32).reshape(-1, 1, 2)
    if cv2.contourArea(contour) <= 0:  # degenerate: a segment or a point
        hull = np.asarray(rectangle, np.float64)
        lo, hi = hull.min(0) - tolerance, hull.max(0) + tolerance
        return bool(np.all((points >= lo) & (points <= hi)))
    return all(
        cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -tolerance for x, y in points
    )


def _inside_line(word: np.ndarray, line: np.ndarray) -> bool:
    """Whether a word from ``WordSplitter.split`` lies in its line's minimum-area rectangle
    (1 px of slack), or is the line itself: a line less than a pixel long or high stays
    whole (and OpenCV turns a flat line's rectangle by 90 degrees). A word is a
    quadrilateral cut from the rectangle, or, from a line with more than 4 points that
    bends, a polygon along the line's own edges (even length, at least 4 points)."""
    if np.array_equal(word, line):
        return True
    rectangle = cv2.boxPoints(cv2.minAreaRect(line.astype(np.float32)))
    shaped = word.shape == (4, 2) or (len(line) > 4 and len(word) >= 4 and len(word) % 2 == 0)
    return shaped and _within_rectangle(word, rectangle, tolerance=1.0)


@examples(150)
@given(st.data(), st.sampled_from(["ink", "contrast", "prob"]))
def test_words_split_from_any_line_lie_inside_the_line(data, profile):
    image = data.draw(pictures(max_side=64))
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    line = data.draw(polygons(*gray.shape, max_points=12))
    prob = (gray / 255.0).astype(np.float32) if profile == "prob" else None
    words = WordSplitter(profile=profile).split(line, gray, prob)
    assert words
    for word in words:
        assert _inside_line(word, line)


@examples(60)
@given(st.data())
def test_split_detections_keeps_every_word_inside_its_line_with_its_score(data):
    image = data.draw(pictures(max_side=64))
    lines = [
        Detection(data.draw(polygons(*image.shape[:2], max_points=8)), score)
        for score in data.draw(st.lists(st.floats(0, 1), max_size=4))
    ]
    words = WordSplitter().split_detections(image, lines)
    assert len(words) >= len(lines)
    # Words come line by line, in order: each one lies in some line of the same score.
    for word in words:
        assert word.polygon.dtype == np.float32
        assert any(
            word.score == line.score and _inside_line(word.polygon, line.polygon) for line in lines
        )


# Quadrilaterals of every kind polygons() draws (degenerate ones too), about 1000 px apart.
QUADS = st.lists(polygons(250, 250, min_points=4, max_points=4), max_size=12)


@examples(200)
@given(QUADS)
def test_grouping_into_lines_takes_every_word_exactly_once(quads):
    groups = group_into_lines(quads)
    assert all(groups)
    assert sorted(i for group in groups for i in group) == list(range(len(quads)))


@examples(200)
@given(QUADS)
def test_blocks_cut_the_lines_in_reading_order_without_moving_one(quads):
    blocks = group_into_blocks(quads)
    assert all(blocks)
    assert [i for block in blocks for i in block] == list(range(len(quads)))


@examples(200)
@given(QUADS.filter(bool))
def test_the_enclosing_rectangle_holds_every_point_clockwise_from_the_top_left(quads):
    points = np.concatenate(quads)
    rectangle = enclosing_rectangle(quads)
    assert rectangle.shape == (4, 2) and rectangle.dtype == np.float32
    extent = float(np.abs(points).max()) + 1.0
    assert _within_rectangle(points, rectangle, tolerance=1e-3 * extent)
    x, y = rectangle[:, 0].astype(np.float64), rectangle[:, 1].astype(np.float64)
    area = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    assert area >= -1e-3 * extent**2  # clockwise in image coordinates (y down)
    edges = np.roll(rectangle, -1, axis=0) - rectangle
    lengths = np.linalg.norm(edges, axis=1)
    if lengths.min() > 1e-2 * extent:  # the top edge is the one pointing most rightwards
        rightwards = edges[:, 0] / lengths
        assert rightwards[0] >= rightwards.max() - 1e-3


# ------------------------------------------------------------------ the JSON schema


@st.composite
def words(draw, width: int, height: int):
    """A word whose polygon may lie partly or wholly outside the image."""
    count = draw(st.integers(3, 6))
    xs = st.floats(-2.0 * width, 3.0 * width, allow_nan=False)
    ys = st.floats(-2.0 * height, 3.0 * height, allow_nan=False)
    polygon = [[draw(xs), draw(ys)] for _ in range(count)]
    text = draw(st.text(max_size=6))
    return Word(polygon, text, draw(st.floats(0, 1)), draw(st.floats(0, 1)))


@st.composite
def pages(draw):
    """An assembled page: words grouped as the pipeline groups them, or into arbitrary
    lines that leave some words out."""
    width, height = draw(st.integers(1, 3000)), draw(st.integers(1, 3000))
    page_words = draw(st.lists(words(width, height), max_size=8))
    if draw(st.booleans()):
        groups = group_into_lines([np.asarray(w.polygon) for w in page_words])
    else:
        order = draw(st.permutations(range(len(page_words))))
        kept = order[: draw(st.integers(0, len(order)))]
        cuts = sorted(draw(st.sets(st.integers(1, max(len(kept) - 1, 1)), max_size=3)))
        groups = [list(kept[a:b]) for a, b in zip([0, *cuts], [*cuts, len(kept)])]
        groups = [group for group in groups if group]
    return assemble_page(page_words, groups, width, height, path="photo.jpg")


def _inside(polygon, width: int, height: int) -> bool:
    return all(0 <= x <= width and 0 <= y <= height for x, y in polygon)


@examples(200)
@given(pages())
def test_every_polygon_of_a_page_is_inside_the_image_and_json_reads_back(result):
    data = result.to_dict()
    width, height = data["image"]["width"], data["image"]["height"]
    for kind in ("words", "lines", "blocks"):
        for item in data[kind]:
            assert _inside(item["polygon"], width, height), (kind, item["polygon"])
    assert OCRResult.from_json(result.to_json()).to_dict() == data
    assert json.loads(result.to_json(indent=None)) == data


def _sample_page() -> dict:
    sign = Word([[10, 10], [60, 10], [60, 30], [10, 30]], "OPEN", 0.9, 0.8)
    hours = Word([[70, 12], [120, 12], [120, 30], [70, 30]], "9-5", 0.7)
    below = Word([[10, 50], [60, 50], [60, 70], [10, 70]], "daily", 0.6)
    return assemble_page([sign, hours, below], [[0, 1], [2]], 200, 100).to_dict()


def _version_1(data: dict) -> dict:
    old = copy.deepcopy(data)
    old["schema_version"] = 1
    del old["blocks"]
    for line in old["lines"]:
        del line["block"], line["confidence"]
    return old


SAMPLES = [_sample_page(), _version_1(_sample_page())]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.just(10**400)
    | st.floats()
    | st.text(max_size=4)
    | st.sampled_from(["words", "lines", "polygon", "image", "width"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value, prefix=()):
    """Every place in a JSON document, as the keys and indices leading to it."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def malformed_results(draw):
    """A valid result's JSON with one to three values removed or replaced by anything."""
    data = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(data))))
        if not path:
            return draw(JSON_VALUES)
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return data


@examples(400)
@given(malformed_results())
def test_a_malformed_result_is_refused_with_a_value_error_only(data):
    try:
        result = OCRResult.from_dict(data)
    except ValueError as error:
        assert str(error)
        return
    assert isinstance(result, OCRResult)


# ------------------------------------------------------------------ the loader fuzzer


def _fuzz_module():
    """benchmarks/fuzz_loaders.py, imported once (benchmarks/ is not a package)."""
    if "fuzz_loaders" not in sys.modules:
        path = REPO / "benchmarks" / "fuzz_loaders.py"
        spec = importlib.util.spec_from_file_location("fuzz_loaders", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["fuzz_loaders"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["fuzz_loaders"]


@pytest.mark.parametrize("target", ["image", "checkpoint"])
def test_the_loader_fuzzer_finds_nothing_in_a_few_seconds(target, tmp_path):
    fuzz = _fuzz_module()
    report = fuzz.fuzz(target, 4.0, 7, tmp_path / "findings", tmp_path / "work")
    assert report.tried >= 20
    assert not report.findings, [vars(f) for f in report.findings.values()]
    # Both outcomes occur: the mutations are neither all harmless nor all fatal.
    assert report.outcomes["ok"] > 0 and sum(report.outcomes.values()) > report.outcomes["ok"]


def test_the_fuzzer_reports_an_undocumented_exception_and_saves_its_input(tmp_path):
    fuzz = _fuzz_module()
    fuzzer = fuzz.Fuzzer("image", tmp_path / "work", tmp_path / "findings", seed=1)

    def run(path):
        raise KeyError("a loader bug")

    fuzzer.run = run
    fuzzer.step()
    (finding,) = fuzzer.report.findings.values()
    assert finding.kind == "KeyError" and "a loader bug" in finding.message
    assert any(Path(finding.saved).iterdir())


# What the fuzzer found, replayed as plain examples.


def test_a_premultiplied_la_image_is_converted():
    image = Image.new("LA", (3, 2), (10, 255)).convert("La")
    assert_rgb_picture(load_photo(image), 2, 3)


def test_a_tiff_whose_second_page_lacks_its_size_is_an_image_error(tmp_path):
    frames = [Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    data = bytearray(buffer.getvalue())
    # The second page's directory: drop its ImageWidth tag (256) by renaming it.
    second = data.rfind(struct.pack("<HH", 256, 4))  # tag 256, a LONG
    data[second : second + 2] = struct.pack("<H", 999)
    path = tmp_path / "pages.tif"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImageError, match="pages.tif"):
            load_photo(path)


def _tiny_checkpoint(content) -> bytes:
    buffer = io.BytesIO()
    torch.save(content, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tiny_state():
    state, hparams, _ = _fuzz_module().tiny_model_state()
    return state, hparams


def test_a_damaged_pickle_opcode_is_corrupt_not_a_question_of_trust(tiny_state, tmp_path):
    state, hparams = tiny_state
    data = _tiny_checkpoint({"state_dict": state, "hyper_parameters": hparams})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data.pkl"))
    start = data.find(b"\x80\x02", info.header_offset)  # the pickle's protocol opcode
    damaged = data[: start + 2] + b"\xf3" + data[start + 3 :]  # no such opcode
    path = tmp_path / "damaged.ckpt"
    path.write_bytes(damaged)
    with pytest.raises(CheckpointError, match="corrupt") as caught:
        read_checkpoint(path)
    assert "trust" not in str(caught.value)


def test_a_legacy_file_listing_a_storage_it_lacks_is_corrupt(tiny_state, tmp_path):
    state, _ = tiny_state
    buffer = io.BytesIO()
    torch.save(state, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    # The legacy format: magic number, protocol, system info, the state dict's pickle, then
    # the list of storage keys. Rename the first key: no storage answers to it any more.
    stream = io.BytesIO(data)
    for _ in range(4):
        for _ in pickletools.genops(stream):  # stops after the pickle's STOP opcode
            pass
    start = stream.tell()
    key = pickle.load(stream)[0].encode()
    end = stream.tell()
    renamed = data[start:end].replace(key, b"1" * len(key), 1)
    path = tmp_path / "legacy.pt"
    path.write_bytes(data[:start] + renamed + data[end:])
    with pytest.raises(CheckpointError, match="legacy.pt.*corrupt"):
        read_checkpoint(path)


def test_a_zip_claiming_to_span_several_disks_is_a_checkpoint_error(tmp_path):
    locator = b"PK\x06\x07" + (1).to_bytes(4, "little") + bytes(8) + (2).to_bytes(4, "little")
    path = tmp_path / "disks.pt"
    path.write_bytes(locator + b"PK\x05\x06" + bytes(18))
    with pytest.raises(CheckpointError, match="disks.pt"):
        read_checkpoint(path)


@pytest.mark.parametrize(
    "change",
    [
        {"hyper_parameters": [1, 2]},
        {"hyper_parameters": {"charset_train": 7}},
        {"hyper_parameters": {"img_size": "32x32"}},
        {"hyper_parameters": {"dec_num_heads": "eight"}},
        {"tensor": [1.0, 2.0]},
        {"tensor": torch.zeros(())},
        {"tensor": torch.zeros((0, 3, 16, 16))},  # a vision tower of width 0
        {"embedded_config": [1, 2]},
    ],
)
def test_a_checkpoint_with_odd_content_is_a_checkpoint_error(tiny_state, tmp_path, change):
    state, hparams = tiny_state
    state, hparams = dict(state), dict(hparams)
    if "hyper_parameters" in change:
        new = change["hyper_parameters"]
        hparams = {**hparams, **new} if isinstance(new, dict) else new
    if "tensor" in change:
        state["clip_model.visual.conv1.weight"] = change["tensor"]
    if "embedded_config" in change:
        state["visual_decoder._extra_state"] = {"clip4str_config": change["embedded_config"]}
    path = tmp_path / "odd.ckpt"
    path.write_bytes(_tiny_checkpoint({"state_dict": state, "hyper_parameters": hparams}))
    with pytest.raises(CheckpointError, match="odd.ckpt"):
        read_checkpoint(path)
