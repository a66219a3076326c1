"""Synthetic word crops: fonts, labels, rendering and the spawned batch stream."""

import multiprocessing as mp
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DATA, DEJAVU
from PIL import Image, ImageDraw

from recognizer.images import image_to_tensor
from recognizer.training.synth import fonts as synth_fonts
from recognizer.training.synth.fonts import check_font, discover_fonts, font_files, load_font
from recognizer.training.synth.render import WordRenderer, contact_sheet, load_background_photos
from recognizer.training.synth.stream import (
    RealCropDataset,
    StreamConfig,
    SynthStream,
    light_augment,
    render_batch,
    strong_augment,
)
from recognizer.training.synth.words import (
    CHARSET,
    CURRICULUM,
    DEFAULT_WEIGHTS,
    KINDS,
    TextConfig,
    TextSampler,
    curriculum_config,
)

HUMOR_SANS = Path("/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf")
LONG_TEXT = "Abcdefghijklmnopqrstuvw25"


@pytest.fixture(scope="module")
def small_fonts(tmp_path_factory):
    """DejaVu only: scanning it takes a moment, unlike the whole font tree on a fresh machine."""
    if not (DEJAVU / "DejaVuSans.ttf").is_file():
        pytest.skip(
            "DejaVu fonts missing: run recognizer/training/synth/install_training_assets.sh"
        )
    return discover_fonts([DEJAVU], cache_dir=tmp_path_factory.mktemp("font-cache"))


@pytest.fixture(scope="module")
def renderer(small_fonts):
    return WordRenderer(small_fonts, load_background_photos())


@pytest.fixture(scope="module")
def sampler():
    return TextSampler()


def draw(font, text: str) -> np.ndarray:
    canvas = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(canvas).text((8, 8), text, font=font, fill=255)
    return np.asarray(canvas)


def ink(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


# --- fonts -------------------------------------------------------------------------------


def test_font_files_skip_symbol_and_math_fonts():
    files = font_files([DEJAVU])
    assert str(DEJAVU / "DejaVuSans.ttf") in files
    assert not any("Math" in Path(f).name for f in files)
    assert files == sorted(files)


def test_discovered_fonts_draw_real_letters(small_fonts):
    assert small_fonts, "no usable font found"
    assert [f.path for f in small_fonts] == sorted(f.path for f in small_fonts)
    for info in small_fonts:
        font = load_font(info.path, 32)
        notdef = draw(font, "\U0010fffd")  # a code point no font maps: the .notdef box
        for char in "Ag5":
            glyph = draw(font, char)
            assert glyph.max() > 128, f"{info.path} draws no {char!r}"
            assert not np.array_equal(glyph, notdef), f"{info.path} lacks {char!r}"
        assert set("0123456789abcXYZ") <= set(info.coverage)


def test_font_scan_is_cached_and_deterministic(small_fonts, tmp_path):
    first = discover_fonts([DEJAVU], cache_dir=tmp_path)
    assert list(tmp_path.glob("fonts-*.json")), "the scan was not cached"
    synth_fonts._discover.cache_clear()  # read it back from the JSON file this time
    assert discover_fonts([DEJAVU], cache_dir=tmp_path) == first == small_fonts


@pytest.mark.skipif(not HUMOR_SANS.is_file(), reason="fonts-humor-sans not installed")
def test_caps_only_fonts_are_rejected():
    assert check_font(str(HUMOR_SANS)) is None  # its "a" is an "A": labels would lie
    assert check_font(str(DEJAVU / "DejaVuSans.ttf")).coverage == CHARSET


# --- labels ------------------------------------------------------------------------------


def test_every_kind_of_label_stays_in_the_charset(sampler):
    rng = np.random.default_rng(1)
    allowed = set(CHARSET)
    for name, kind in KINDS.items():
        for _ in range(200):
            text = kind(sampler, rng)
            assert text and set(text) <= allowed, (name, text)


def test_sampled_labels_respect_charset_and_length(sampler):
    rng = np.random.default_rng(2)
    labels = [sampler.sample(rng) for _ in range(3000)]
    assert all(1 <= len(t) <= 25 and set(t) <= set(CHARSET) for t in labels)
    assert any(not t.isalpha() for t in labels) and any(t.isupper() for t in labels)
    short = sampler.with_config(TextConfig(DEFAULT_WEIGHTS, max_length=5))
    assert all(1 <= len(short.sample(rng)) <= 5 for _ in range(1000))


def test_curriculum_starts_with_short_clean_words(sampler):
    rng = np.random.default_rng(3)
    first = sampler.with_config(curriculum_config(0))
    for _ in range(500):
        text = first.sample(rng)
        assert text.isalpha() and len(text) <= 8
        assert text in (text.lower(), text[:1].upper() + text[1:].lower())
    last = sampler.with_config(curriculum_config(99))
    assert last.config == CURRICULUM[-1]
    assert curriculum_config(2, max_length=10).max_length == 10


def test_sampler_is_deterministic_for_a_seed(sampler):
    def draw(seed):
        rng = np.random.default_rng(seed)
        return [sampler.sample(rng) for _ in range(50)]

    assert draw(7) == draw(7) != draw(8)


# --- rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", [0.0, 0.5, 1.0])
def test_rendered_crops_are_rgb_and_show_text(renderer, difficulty):
    rng = np.random.default_rng(4)
    for text in ["a", "-", "...", "Hello", "$12.99", LONG_TEXT]:
        crop = renderer.render(text, rng, difficulty)
        assert crop.mode == "RGB" and crop.width >= 2 and crop.height >= 2
        assert ink(crop).std() > 0.03, f"{text!r} at difficulty {difficulty} looks blank"


def test_clean_crops_are_dark_text_on_light_ground_with_margins(renderer, sampler):
    rng = np.random.default_rng(5)
    for _ in range(40):
        crop = ink(renderer.render(sampler.sample(rng), rng, 0.0))
        assert np.median(crop) > 0.7 and crop.min() < 0.3
        # Nothing of the word is cut at the sides: the border columns are background.
        assert crop[:, 0].min() > 0.6 and crop[:, -1].min() > 0.6


def test_rendering_is_deterministic_for_a_seed(renderer):
    def crop(seed):
        return np.asarray(renderer.render("Deterministic", np.random.default_rng(seed), 0.7))

    assert np.array_equal(crop(9), crop(9))
    assert not np.array_equal(crop(9), crop(10))


def test_contact_sheet_of_many_difficulties(renderer, sampler, tmp_path):
    rng = np.random.default_rng(6)
    texts = [sampler.sample(rng) for _ in range(8)]
    sheet = contact_sheet(renderer, texts, rng, np.linspace(0, 1, 8), columns=4)
    sheet.save(tmp_path / "sheet.png")
    assert sheet.size == (4 * 264, 2 * 104)


# --- real crops and the stream -----------------------------------------------------------


@pytest.fixture
def real_folder(tmp_path):
    rows = ["crops/a.png\tHello\tfake", "crops/b.png\tWorld", "crops/c.png\tcafé", "bad line"]
    rows.append("crops/d.png\t" + "x" * 30)  # too long for the charset's 25
    (tmp_path / "crops").mkdir()
    for i, name in enumerate("abcd"):
        Image.new("RGB", (60 + 10 * i, 20), (40 * i, 200, 100)).save(tmp_path / f"crops/{name}.png")
    (tmp_path / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


def test_real_crops_use_the_recognizer_preprocessing(real_folder):
    dataset = RealCropDataset(real_folder, image_size=(32, 100))
    assert [label for _, label in dataset.items] == ["Hello", "World", "cafe"]
    tensor, label = dataset[1]
    image = Image.open(real_folder / "crops/b.png").convert("RGB")
    assert label == "World"
    assert torch.equal(tensor, image_to_tensor(image, (32, 100), (0.5,) * 3, (0.5,) * 3))
    augmented = light_augment(image, np.random.default_rng(0))
    assert augmented.mode == "RGB" and min(augmented.size) > 0


def test_strong_augmentation_changes_a_crop_differently_each_time():
    ramp = np.linspace(0, 255, 80, dtype=np.float32)
    pixels = np.stack([np.tile(ramp, (20, 1)), np.tile(ramp[::-1], (20, 1)), np.full((20, 80), 90)])
    image = Image.fromarray(pixels.transpose(1, 2, 0).astype(np.uint8))
    rng = np.random.default_rng(3)
    outputs = [np.asarray(strong_augment(image, rng)) for _ in range(8)]
    assert all(out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8 for out in outputs)
    assert all(abs(out.shape[0] - 20) <= 2 for out in outputs)  # crop jitter only
    changed = [out.shape != (20, 80, 3) or not np.array_equal(out, image) for out in outputs]
    assert sum(changed) >= 6
    distinct = {out.tobytes() for out in outputs}
    assert len(distinct) == len(outputs)
    again = np.asarray(strong_augment(image, np.random.default_rng(3)))
    assert np.array_equal(again, outputs[0])


def test_real_crops_take_their_augmentation_by_name(real_folder):
    assert RealCropDataset(real_folder).augment is None
    assert RealCropDataset(real_folder, augment=True).augment is light_augment
    strong = RealCropDataset(real_folder, augment="strong")
    assert strong.augment is strong_augment
    image, label = strong.sample(np.random.default_rng(0))
    assert image.mode == "RGB" and label in {"Hello", "World", "cafe"}
    with pytest.raises(ValueError, match="'heavy'.*none, light, strong"):
        RealCropDataset(real_folder, augment="heavy")


def test_real_crops_mix_into_batches_by_ratio(renderer, sampler, real_folder):
    real = RealCropDataset(real_folder, augment=True)
    rng = np.random.default_rng(7)
    config = StreamConfig(batch_size=40, image_size=(32, 128), real_ratio=1.0)
    images, labels = render_batch(renderer, sampler, rng, config, 0.5, real)
    assert images.shape == (40, 3, 32, 128) and images.dtype == np.float32
    assert set(labels) <= {"Hello", "World", "cafe"}
    config = StreamConfig(batch_size=40, real_ratio=0.0)
    _, labels = render_batch(renderer, sampler, rng, config, 0.5, real)
    assert not set(labels) <= {"Hello", "World", "cafe"}


def test_batches_fit_crops_as_the_model_reads_them(renderer, sampler, real_folder):
    # A model reading padded crops trains on padded crops, synthetic and real alike.
    rng = np.random.default_rng(3)
    for ratio in (0.0, 1.0):
        real = RealCropDataset(real_folder, resize="keep_aspect") if ratio else None
        config = StreamConfig(
            batch_size=8, image_size=(16, 640), real_ratio=ratio, resize="keep_aspect"
        )
        images, _ = render_batch(renderer, sampler, rng, config, 0.5, real)
        # No word of 25 characters is 40 times longer than high: the right end stays empty.
        assert np.all(images[:, :, :, -1] == 0.0)
        assert np.count_nonzero(images[:, :, :, 0])


@pytest.mark.skipif(not (DATA / "real_train/labels.tsv").is_file(), reason="no shared data")
def test_real_training_crops_load():
    dataset = RealCropDataset(DATA / "real_train")
    assert len(dataset) > 1000
    tensor, label = dataset[0]
    assert tensor.shape == (3, 32, 128) and 1 <= len(label) <= 25


@pytest.mark.slow
def test_stream_yields_batches_from_a_spawned_worker_and_shuts_down(small_fonts, real_folder):
    stream = SynthStream(
        batch_size=6,
        image_size=(32, 100),
        seed=0,
        difficulty=0.2,
        stage=0,
        queue_size=2,
        font_dirs=(str(DEJAVU),),
        skimage_photos=False,
        real=RealCropDataset(real_folder),
        real_ratio=0.3,
    )
    with stream:
        pids = stream.worker_pids
        images, labels = stream.next_batch(timeout=120)
        assert images.shape == (6, 3, 32, 100) and images.dtype == torch.float32
        assert -1.0 <= float(images.min()) and float(images.max()) <= 1.0
        assert len(labels) == 6 and all(set(t) <= set(CHARSET) for t in labels)
        stream.difficulty, stream.stage = 1.0, 2
        assert (stream.difficulty, stream.stage) == (1.0, 2)
        images, _ = next(iter(stream))
        assert images.shape == (6, 3, 32, 100)
    assert not mp.active_children()
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # reaped, not a zombie
            os.kill(pid, 0)
    with pytest.raises(RuntimeError):
        stream.start()


@pytest.mark.slow
def test_a_stopping_worker_leaves_only_whole_batches_in_the_pipe():
    """A worker that stops while a batch is half-way through the pipe must finish writing it:
    a half message would block any later read, and with it close(), for ever."""
    stream = SynthStream(
        batch_size=16,
        image_size=(224, 224),  # ~9.6 MB per batch, far more than a pipe holds
        queue_size=2,
        font_dirs=(str(DEJAVU),),
        skimage_photos=False,
    )
    stream.next_batch(timeout=120)
    worker = mp.active_children()[0]
    deadline = time.monotonic() + 60
    while stream._queue.empty() and time.monotonic() < deadline:
        time.sleep(0.1)  # until the worker is writing its next batch into the pipe
    stream._stop.set()  # the worker stops while nobody reads
    worker.join(timeout=3.0)

    def read_then_close():
        stream._drain()
        stream.close()

    reader = threading.Thread(target=read_then_close, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "reading the pipe is stuck on a half-written batch"
    assert not mp.active_children()
