"""Crops of any mode and container become the same tensor; bad ones fail clearly."""

import numpy as np
import pytest
import torch
from PIL import Image

from recognizer.images import ImageError, as_rgb_image, preprocess_batch

SIZE = (32, 128)
MEAN = STD = (0.5, 0.5, 0.5)


def _tensor(item):
    return preprocess_batch([item], SIZE, MEAN, STD)[0]


def test_output_shape_and_range():
    crop = Image.new("RGB", (57, 23), (255, 0, 128))
    tensor = _tensor(crop)
    assert tensor.shape == (3, 32, 128)
    assert tensor[0].max() == pytest.approx(1.0) and tensor[1].min() == pytest.approx(-1.0)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "1"])
def test_every_pil_mode_becomes_three_channels(mode):
    crop = Image.new("RGB", (40, 20), (10, 200, 30)).convert(mode)
    assert _tensor(crop).shape == (3, 32, 128)


def test_numpy_inputs_match_pil_inputs():
    rgb = np.random.default_rng(0).integers(0, 255, (20, 60, 3), dtype=np.uint8)
    assert torch.equal(_tensor(rgb), _tensor(Image.fromarray(rgb)))
    assert torch.equal(_tensor(rgb.astype(np.float32) / 255.0), _tensor(rgb))
    gray = rgb[:, :, 0]
    assert torch.equal(_tensor(gray), _tensor(Image.fromarray(gray)))
    rgba = np.dstack([rgb, np.full((20, 60), 255, np.uint8)])
    assert torch.equal(_tensor(rgba), _tensor(rgb))


def test_paths_are_opened_upright_by_exif(tmp_path):
    wide = Image.new("RGB", (60, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    wide.save(path, exif=exif)
    assert as_rgb_image(path).size == (20, 60)


def test_bad_files_name_the_file_and_the_reason(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    truncated = tmp_path / "cut.png"
    Image.new("RGB", (300, 100), "red").save(tmp_path / "full.png")
    truncated.write_bytes((tmp_path / "full.png").read_bytes()[:60])
    for path, reason in [
        (empty, "empty"),
        (text, "not an image"),
        (truncated, "truncated"),
        (tmp_path / "nope.png", "no such file"),
    ]:
        with pytest.raises(ImageError, match=reason) as info:
            as_rgb_image(path)
        assert path.name in str(info.value)


@pytest.mark.parametrize(
    "array",
    [np.zeros((0, 10, 3), np.uint8), np.zeros((5, 5, 2), np.uint8), np.zeros((5, 5), np.int64)],
)
def test_unusable_arrays_are_refused(array):
    with pytest.raises(ImageError):
        as_rgb_image(array)


def test_keep_aspect_scales_to_the_height_and_pads_to_zero():
    # A 20x60 crop (aspect 3) at 32x128: 96 columns of word, 32 of padding.
    rng = np.random.default_rng(1)
    crop = rng.integers(0, 255, (20, 60, 3), dtype=np.uint8)
    tensor = preprocess_batch([crop], SIZE, MEAN, STD, resize="keep_aspect")[0]
    assert tensor.shape == (3, 32, 128)
    assert torch.count_nonzero(tensor[:, :, 96:]) == 0
    word = tensor[:, :, :96]
    assert torch.count_nonzero(word) > 0.9 * word.numel()
    # Only the width that keeps the aspect ratio is resized: the word is not stretched.
    stretched = _tensor(crop)
    assert not torch.allclose(stretched[:, :, :96], word)


def test_keep_aspect_pads_with_the_normalization_mean():
    mean, std = (0.2, 0.4, 0.6), (0.3, 0.3, 0.3)
    crop = Image.new("RGB", (10, 20), (0, 0, 0))
    tensor = preprocess_batch([crop], SIZE, mean, std, resize="keep_aspect")[0]
    assert torch.count_nonzero(tensor[:, :, 16:]) == 0  # 10x20 -> 16x32
    assert tensor[:, :, :16].amax() < 0


def test_keep_aspect_squeezes_a_word_longer_than_the_input():
    crop = Image.new("RGB", (400, 20), (255, 255, 255))
    tensor = preprocess_batch([crop], SIZE, MEAN, STD, resize="keep_aspect")[0]
    assert torch.all(tensor == 1.0)


def test_an_unknown_resize_mode_names_the_choices():
    with pytest.raises(ValueError, match="stretch, keep_aspect"):
        preprocess_batch([Image.new("RGB", (8, 8))], SIZE, MEAN, STD, resize="crop")
