"""Photos are loaded upright and RGB; bad or huge files fail with a message naming them."""

import numpy as np
import pytest
from PIL import Image

from pipeline.photos import find_photos, load_photo
from recognizer import CorruptImageError, ImageTooLargeError, NotAnImageError
from recognizer.images import ImageError


def test_huge_image_is_refused_from_its_header(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (4000, 3000)).save(path)
    with pytest.raises(ImageError, match="huge.png.*more than"):
        load_photo(path, max_pixels=10_000_000)


def test_modes_become_rgb_and_exif_rotation_is_applied(tmp_path):
    path = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 degrees counter-clockwise to display
    Image.new("RGB", (80, 20), "white").save(path, exif=exif)
    image = load_photo(path)
    assert image.shape == (80, 20, 3) and image.dtype == np.uint8
    assert load_photo(Image.new("LA", (5, 6))).shape == (6, 5, 3)


def test_bad_files_are_named(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello")
    for name in ("empty.png", "text.jpg"):
        with pytest.raises(ImageError, match=name):
            load_photo(tmp_path / name)


def test_the_bytes_of_an_image_file_load_as_the_file_does(tmp_path):
    path = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.new("RGB", (80, 20), "white").save(path, exif=exif)
    assert np.array_equal(load_photo(path.read_bytes()), load_photo(path))


def test_each_kind_of_bad_data_has_its_own_error(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (400, 300), "white").save(path)
    data = path.read_bytes()
    with pytest.raises(NotAnImageError, match="^image data: not an image"):
        load_photo(b"%PDF-1.4 not a photo")
    with pytest.raises(CorruptImageError, match="^image data: corrupt or truncated"):
        load_photo(data[: len(data) // 2])
    with pytest.raises(ImageTooLargeError, match="^image data: 400x300 is 120000 pixels"):
        load_photo(data, max_pixels=100_000)
    with pytest.raises(ImageTooLargeError, match="photo.png: 400x300"):
        load_photo(path, max_pixels=100_000)
    with pytest.raises(ImageError, match="empty"):
        load_photo(b"")


def test_find_photos_walks_folders_and_keeps_image_extensions(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.JPG", "a/b/y.png", "z.webp", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in find_photos(tmp_path)]
    assert found == ["a/b/y.png", "a/x.JPG", "z.webp"]
