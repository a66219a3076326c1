"""Fuzzing the image and checkpoint loaders for a bounded time.

    python benchmarks/fuzz_loaders.py --seconds 60            # each target for 60 s
    python benchmarks/fuzz_loaders.py --target image --seconds 120 --seed 3

Each target starts from small valid files that it writes itself (photos in PNG, JPEG, TIFF,
WEBP, GIF and BMP; tiny CLIP4STR checkpoints as a Lightning-style file, a bare state dict, a
legacy pickle and a ``save_pretrained`` folder) and feeds its loader mutated copies: bit
flips, overwritten bytes and integers, truncation, deleted or repeated chunks, headers
spliced from another file, huge declared image sizes, checkpoints holding wrong shapes and
types, and random bytes.

``pipeline.photos.load_photo`` must return an HxWx3 uint8 array or raise ``ImageError``;
``recognizer.checkpoint.read_checkpoint`` must return a configuration and tensors or raise
``CheckpointError``. Anything else is a finding: printed with its exception and message,
its input saved under ``--findings``. A crash of the process is a finding too: each target
runs in a child process, restarted after a crash. Mutations come from ``random`` with a
fixed seed, so a run is reproducible up to how many inputs fit in the time. Exits 1 when
there were findings.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGETS = ("image", "checkpoint")
# Photos above this many pixels are refused (ImageError) before decoding, which keeps a
# mutated header's huge declared size from costing a large allocation per input.
FUZZ_MAX_PIXELS = 4_000_000
# An input that takes longer than this to load is reported as a finding.
SLOW_SECONDS = 10.0
INTERESTING_INTS = (0, 1, 2, 7, 255, 256, 32767, 32768, 65535, 65536, 1 << 24, 2**31 - 1, 2**32 - 1)


# --------------------------------------------------------------------- byte mutations


def hot_regions(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges where a mutation changes structure rather than pixel or tensor values:
    the start and end of the file, a zip's pickle member and a safetensors header."""
    size = len(data)
    regions = [(0, min(size, 512)), (max(0, size - 512), size)]
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if info.filename.endswith(".pkl"):
                        start = info.header_offset
                        regions.append((start, min(size, start + 200 + info.file_size)))
        except Exception:  # noqa: BLE001 - a mutated archive: no hot region inside it
            pass
    elif size > 8:
        header = int.from_bytes(data[:8], "little")
        if 0 < header < size:  # a safetensors file: 8-byte length, then a JSON header
            regions.append((0, 8 + header))
    regions = [(max(a, 0), min(b, size)) for a, b in regions]  # a damaged zip's offsets
    return [(a, b) for a, b in regions if b > a]


def pick_offset(rng: random.Random, data: bytes) -> int:
    """A random offset into ``data``, half the time inside one of its hot regions."""
    if rng.random() < 0.5:
        start, end = rng.choice(hot_regions(data))
        return rng.randrange(start, end)
    return rng.randrange(len(data))


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[pick_offset(rng, data)] ^= 1 << rng.randrange(8)
    return bytes(out)


def set_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[pick_offset(rng, data)] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
    return bytes(out)


def set_integer(rng: random.Random, data: bytes) -> bytes:
    """An interesting 2- or 4-byte integer written over a field (a size, a count, an offset)."""
    width = rng.choice((2, 4))
    if len(data) < width:
        return data
    offset = min(pick_offset(rng, data), len(data) - width)
    value = rng.choice(INTERESTING_INTS) % (1 << (8 * width))
    packed = value.to_bytes(width, rng.choice(("little", "big")))
    return data[:offset] + packed + data[offset + width :]


def truncate(rng: random.Random, data: bytes) -> bytes:
    if rng.random() < 0.3:
        return data[: rng.randrange(min(len(data), 64))]
    return data[: rng.randrange(len(data))]


def delete_chunk(rng: random.Random, data: bytes) -> bytes:
    start = pick_offset(rng, data)
    return data[:start] + data[start + rng.randint(1, 256) :]


def repeat_chunk(rng: random.Random, data: bytes) -> bytes:
    start = pick_offset(rng, data)
    chunk = data[start : start + rng.randint(1, 256)]
    return data[:start] + chunk * rng.randint(2, 8) + data[start:]


def insert_random(rng: random.Random, data: bytes) -> bytes:
    start = pick_offset(rng, data)
    return data[:start] + rng.randbytes(rng.randint(1, 64)) + data[start:]


BYTE_MUTATIONS = (
    flip_bits,
    set_bytes,
    set_integer,
    truncate,
    delete_chunk,
    repeat_chunk,
    insert_random,
)


def splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """The start of ``other`` (its header) followed by the rest of ``data``."""
    cut = rng.randint(1, min(len(other), 256))
    return other[:cut] + data[rng.randint(0, min(len(data), 256)) :]


def mutate_bytes(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    """One to three byte-level mutations of ``data`` (a splice with one of ``others``)."""
    for _ in range(rng.randint(1, 3)):
        if not data:
            return data
        if others and rng.random() < 0.1:
            data = splice(rng, data, rng.choice(others))
        else:
            data = rng.choice(BYTE_MUTATIONS)(rng, data)
    return data


def random_file(rng: random.Random, magics: list[bytes]) -> bytes:
    """Random bytes, sometimes behind a real format's magic number."""
    body = rng.randbytes(rng.choice((0, 1, 7, 64, 1000, 4096)))
    return (rng.choice(magics) if magics and rng.random() < 0.7 else b"") + body


# --------------------------------------------------------------------- images


def sample_picture(width: int = 37, height: int = 23) -> Image.Image:
    """A small RGB picture: a gradient with a dark bar, like a word on a sign."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], -1).astype(np.uint8)
    pixels[height // 3 : 2 * height // 3, width // 4 : 3 * width // 4] = 20
    return Image.fromarray(pixels)


def image_seeds() -> dict[str, bytes]:
    """Small valid files, by name (the suffix names the format), in many formats and modes."""
    picture = sample_picture()
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90 degrees clockwise to view
    deep = Image.fromarray((np.asarray(picture.convert("L"), np.uint16) * 257).astype(np.uint16))
    floats = Image.fromarray(np.asarray(picture.convert("L"), np.float32) / 255.0)
    transparent = picture.convert("RGBA")
    transparent.putalpha(Image.fromarray(np.asarray(picture)[:, :, 0]))
    palette = picture.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    variants = {
        "rgb.png": (picture, "PNG", {}),
        "rgba.png": (transparent, "PNG", {}),
        "gray.png": (picture.convert("L"), "PNG", {}),
        "gray_alpha.png": (transparent.convert("LA"), "PNG", {}),
        "palette.png": (palette, "PNG", {}),
        "deep.png": (deep, "PNG", {}),
        "bilevel.png": (picture.convert("1"), "PNG", {}),
        "rgb.jpg": (picture, "JPEG", {"quality": 80}),
        "rotated.jpg": (picture, "JPEG", {"exif": exif}),
        "gray.jpg": (picture.convert("L"), "JPEG", {}),
        "cmyk.jpg": (picture.convert("CMYK"), "JPEG", {}),
        "progressive.jpg": (picture, "JPEG", {"progressive": True}),
        "rgb.tif": (picture, "TIFF", {}),
        "lzw.tif": (picture, "TIFF", {"compression": "tiff_lzw"}),
        "deep.tif": (deep, "TIFF", {}),
        "float.tif": (floats, "TIFF", {}),
        "cmyk.tif": (picture.convert("CMYK"), "TIFF", {}),
        "rotated.tif": (picture, "TIFF", {"exif": exif}),
        "rgb.webp": (picture, "WEBP", {"quality": 80}),
        "rgba.webp": (transparent, "WEBP", {"lossless": True}),
        "palette.gif": (palette, "GIF", {}),
        "animated.gif": (palette, "GIF", {"save_all": True, "append_images": [palette]}),
        "rgb.bmp": (picture, "BMP", {}),
        "palette.bmp": (picture.convert("P"), "BMP", {}),
        "bilevel.bmp": (picture.convert("1"), "BMP", {}),
    }
    seeds = {}
    for name, (image, container, options) in variants.items():
        buffer = io.BytesIO()
        image.save(buffer, container, **options)
        seeds[name] = buffer.getvalue()
    return seeds


def _png_with_size(data: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR declares another size, with a valid CRC so decoders believe it."""
    if data[12:16] != b"IHDR" or len(data) < 33:
        return data
    ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:8] + data[8:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """A JPEG whose frame header (SOF0/SOF2) declares another size."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0 and len(data) >= at + 9:
            size = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
            return data[: at + 5] + size + data[at + 9 :]
    return data


def _bmp_with_size(data: bytes, width: int, height: int) -> bytes:
    if not data.startswith(b"BM") or len(data) < 26:
        return data
    return data[:18] + struct.pack("<ii", width, height) + data[26:]


def _gif_with_size(data: bytes, width: int, height: int) -> bytes:
    if not data.startswith(b"GIF") or len(data) < 10:
        return data
    return data[:6] + struct.pack("<HH", width & 0xFFFF, height & 0xFFFF) + data[10:]


def huge_size(rng: random.Random, data: bytes) -> bytes:
    """The file with a huge, zero or negative declared width and height."""
    sides = (0, 1, 30000, 65535, 100000, 2**31 - 1, 2**32 - 1)
    width, height = rng.choice(sides), rng.choice(sides)
    if data.startswith(b"\x89PNG"):
        return _png_with_size(data, width, height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_with_size(data, width, height)
    if data.startswith(b"BM"):
        return _bmp_with_size(data, *(v - 2**32 if v >= 2**31 else v for v in (width, height)))
    if data.startswith(b"GIF"):
        return _gif_with_size(data, width, height)
    return set_integer(rng, data)


IMAGE_MAGICS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"GIF89a", b"BM"]


def check_photo(result, max_pixels: int) -> str | None:
    """What is wrong with a value ``load_photo`` returned; None when it keeps its promise."""
    if not isinstance(result, np.ndarray):
        return f"returned a {type(result).__name__}, not an array"
    if result.ndim != 3 or result.shape[2] != 3 or result.dtype != np.uint8:
        return f"returned an array of shape {result.shape} and dtype {result.dtype}"
    height, width = result.shape[:2]
    if height < 1 or width < 1 or height * width > max_pixels:
        return f"returned a {width}x{height} image (limit {max_pixels} pixels)"
    return None


# --------------------------------------------------------------------- checkpoints


def tiny_model_state() -> tuple[dict, dict, object]:
    """A tiny CLIP4STR's state dict, its released-style hyper-parameters and the model."""
    from recognizer import CLIP4STR, CLIP4STRConfig
    from recognizer.clip_backbone import ClipArchitecture

    arch = ClipArchitecture(
        embed_dim=16,
        image_size=(32, 32),
        patch_size=16,
        vision_width=32,
        vision_layers=1,
        vision_heads=1,
        vision_mlp_ratio=2.0,
        text_width=32,
        text_layers=1,
        text_heads=1,
        text_mlp_ratio=2.0,
        context_length=8,
        vocab_size=64,
    )
    charset = "0123456789abc"
    config = CLIP4STRConfig(
        clip=arch, charset=charset, max_label_length=4, decoder_heads=1, decoder_mlp_ratio=2.0
    )
    model = CLIP4STR(config)
    hparams = {"charset_train": charset, "img_size": [32, 32], "dec_num_heads": 1}
    return model.state_dict(), hparams, model


def checkpoint_seeds(folder: Path) -> dict[str, bytes]:
    """Valid checkpoint files, by name: a folder's files are ``folder/name``."""
    import torch

    state, hparams, model = tiny_model_state()

    def saved(value, **options) -> bytes:
        buffer = io.BytesIO()
        torch.save(value, buffer, **options)
        return buffer.getvalue()

    seeds = {
        "released.ckpt": saved({"state_dict": state, "hyper_parameters": hparams}),
        "bare.pt": saved(state),
        "wrapped.pth": saved({"state_dict": {f"module.{k}": v for k, v in state.items()}}),
        "legacy.pt": saved(state, _use_new_zipfile_serialization=False),
    }
    model.save_pretrained(folder / "pretrained")
    for name in ("model.safetensors", "config.json"):
        seeds[f"pretrained/{name}"] = (folder / "pretrained" / name).read_bytes()
    shutil.rmtree(folder / "pretrained")
    return seeds


ODD_VALUES = (None, "", "x", -1, 0, 1.5, 10**20, [], [0], [1, 2, 3], {}, {"a": 1}, True, "nan")


def odd_value(rng: random.Random, torch_values: bool = True):
    """A value of a type or size nobody expects where it appears."""
    if torch_values and rng.random() < 0.4:
        import torch

        shape = rng.choice(((), (0,), (3,), (2, 2), (1, 1, 1), (2, 3, 4, 5), (0, 3, 16, 16)))
        dtype = rng.choice((torch.float32, torch.int64, torch.bool, torch.float16))
        return torch.zeros(shape, dtype=dtype)
    return rng.choice(ODD_VALUES)


def mutate_checkpoint_structure(rng: random.Random) -> bytes:
    """A well-formed torch file whose content is wrong: tensors missing, reshaped or of
    another type, hyper-parameters of odd types, or not a dict at all."""
    import torch

    state, hparams, _ = _tiny_state_cache()
    state, hparams = dict(state), dict(hparams)
    keys = sorted(state)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.3:
            state.pop(rng.choice(keys), None)
        elif choice < 0.6:
            state[rng.choice(keys)] = odd_value(rng)
        elif choice < 0.9:
            name = rng.choice(
                (
                    "charset_train",
                    "img_size",
                    "dec_num_heads",
                    "dropout",
                    "context_length",
                    "refine_iters",
                    "decode_ar",
                )
            )
            hparams[name] = odd_value(rng, torch_values=False)
        else:
            state[f"{rng.choice(keys).rsplit('.', 1)[0]}._extra_state"] = {
                "clip4str_config": odd_value(rng, torch_values=False)
            }
    layout = rng.random()
    if layout < 0.7:
        content = {"state_dict": state, "hyper_parameters": hparams}
    elif layout < 0.85:
        content = state
    else:
        content = rng.choice(
            (
                [state],
                "state",
                3,
                {"state_dict": odd_value(rng)},
                {"state_dict": state, "hyper_parameters": odd_value(rng, False)},
            )
        )
    buffer = io.BytesIO()
    torch.save(content, buffer)
    return buffer.getvalue()


_TINY_STATE: list = []


def _tiny_state_cache() -> tuple[dict, dict, object]:
    if not _TINY_STATE:
        _TINY_STATE.append(tiny_model_state())
    return _TINY_STATE[0]


def mutate_config_structure(rng: random.Random, data: bytes) -> bytes:
    """config.json with a field removed, or set to a value of another type, at any depth."""
    config = json.loads(data)
    for _ in range(rng.randint(1, 3)):
        clip = config.get("clip") if isinstance(config, dict) else None
        target = config if rng.random() < 0.6 or not isinstance(clip, dict) else clip
        if not isinstance(target, dict) or not target:
            break
        key = rng.choice(sorted(target))
        if rng.random() < 0.3:
            del target[key]
        else:
            target[key] = odd_value(rng, torch_values=False)
    if rng.random() < 0.05:
        config = odd_value(rng, torch_values=False)
    return json.dumps(config).encode()


CHECKPOINT_MAGICS = [
    b"PK\x03\x04",
    b"\x80\x02",
    b"\x80\x04\x95",
    b"\x08\x00\x00\x00\x00\x00\x00\x00{",
]


def check_checkpoint(result) -> str | None:
    """What is wrong with a value ``read_checkpoint`` returned; None when it keeps its promise."""
    from recognizer.config import CLIP4STRConfig

    if not (isinstance(result, tuple) and len(result) == 2):
        return f"returned a {type(result).__name__}, not (config, state)"
    config, state = result
    if not isinstance(config, CLIP4STRConfig) or not isinstance(state, dict):
        return f"returned ({type(config).__name__}, {type(state).__name__})"
    return None


# --------------------------------------------------------------------- the fuzz loop


@dataclass
class Finding:
    target: str
    kind: str  # the exception's type, "contract", "slow" or "crash"
    message: str
    where: str  # the innermost frame
    saved: str  # where the input was saved
    count: int = 1


@dataclass
class Report:
    target: str
    tried: int = 0
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)  # "ok", or the documented error
    findings: dict[str, Finding] = field(default_factory=dict)

    def merge(self, other: Report) -> None:
        self.tried += other.tried
        self.seconds += other.seconds
        self.outcomes.update(other.outcomes)
        for key, finding in other.findings.items():
            if key in self.findings:
                self.findings[key].count += finding.count
            else:
                self.findings[key] = finding

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "tried": self.tried,
            "seconds": self.seconds,
            "outcomes": dict(self.outcomes),
            "findings": {k: vars(f) for k, f in self.findings.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        findings = {k: Finding(**f) for k, f in data["findings"].items()}
        return cls(
            data["target"], data["tried"], data["seconds"], Counter(data["outcomes"]), findings
        )


def _where(error: BaseException) -> str:
    """The innermost frame of an exception, as ``file.py:line``: inputs that fail at the
    same place make one finding."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def _type_name(error: BaseException) -> str:
    kind = type(error)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


class Fuzzer:
    """Runs one loader on generated inputs, classifying each outcome."""

    def __init__(self, target: str, work: Path, findings: Path, seed: int):
        self.target = target
        self.current = work / "current"  # the input being tried (kept after a crash)
        self.findings = findings
        self.seed = seed
        self.rng = random.Random(seed)
        self.report = Report(target)
        seeds_folder = work / "seeds"
        seeds_folder.mkdir(parents=True, exist_ok=True)
        if target == "image":
            self.seeds = image_seeds()
            self.generate, self.run = self._image_input, self._run_image
        else:
            self.seeds = checkpoint_seeds(seeds_folder)
            self.generate, self.run = self._checkpoint_input, self._run_checkpoint

    # Inputs: a dict of relative file name -> bytes, and the path to give the loader.

    def _image_input(self) -> tuple[dict[str, bytes], str]:
        name = self.rng.choice(sorted(self.seeds))
        data = self.seeds[name]
        roll = self.rng.random()
        if roll < 0.05:
            data = random_file(self.rng, IMAGE_MAGICS)
        elif roll < 0.2:
            data = huge_size(self.rng, data)
        else:
            data = mutate_bytes(self.rng, data, list(self.seeds.values()))
        return {name: data}, name

    def _checkpoint_input(self) -> tuple[dict[str, bytes], str]:
        roll = self.rng.random()
        if roll < 0.05:
            return {"random.pt": random_file(self.rng, CHECKPOINT_MAGICS)}, "random.pt"
        if roll < 0.25:
            return {"structure.ckpt": mutate_checkpoint_structure(self.rng)}, "structure.ckpt"
        name = self.rng.choice(sorted(self.seeds))
        if not name.startswith("pretrained/"):
            others = [v for k, v in self.seeds.items() if not k.startswith("pretrained/")]
            return {name: mutate_bytes(self.rng, self.seeds[name], others)}, name
        files = {k: v for k, v in self.seeds.items() if k.startswith("pretrained/")}
        if name.endswith(".json") and self.rng.random() < 0.5:
            files[name] = mutate_config_structure(self.rng, files[name])
        else:
            files[name] = mutate_bytes(self.rng, files[name], [])
        if self.rng.random() < 0.1:
            files.pop("pretrained/config.json")  # the shape is then read off the tensors
        given = "pretrained" if self.rng.random() < 0.5 else "pretrained/model.safetensors"
        return files, given

    def _run_image(self, path: Path) -> str | None:
        from pipeline.photos import load_photo

        return check_photo(load_photo(path, max_pixels=FUZZ_MAX_PIXELS), FUZZ_MAX_PIXELS)

    def _run_checkpoint(self, path: Path) -> str | None:
        from recognizer.checkpoint import read_checkpoint

        return check_checkpoint(read_checkpoint(path))

    def documented_errors(self) -> tuple[type[BaseException], ...]:
        if self.target == "image":
            from recognizer.interface import ImageError

            return (ImageError,)
        from recognizer.interface import CheckpointError

        return (CheckpointError,)

    def write_current(self, files: dict[str, bytes]) -> None:
        shutil.rmtree(self.current, ignore_errors=True)
        for name, data in files.items():
            path = self.current / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def step(self) -> None:
        """Generate one input, run the loader on it and record the outcome."""
        files, given = self.generate()
        self.write_current(files)
        documented = self.documented_errors()
        started = time.perf_counter()
        try:
            problem, outcome = self.run(self.current / given), "ok"
        except documented as error:
            problem, outcome = None, type(error).__name__
        except Exception as error:  # noqa: BLE001 - every other exception is a finding
            self.record(_type_name(error), f"{error}"[:300], _where(error))
            return
        finally:
            self.report.tried += 1
        elapsed = time.perf_counter() - started
        if problem is not None:
            self.record("contract", problem, "")
        elif elapsed > SLOW_SECONDS:
            self.record("slow", f"took {elapsed:.1f} s", "")
        else:
            self.report.outcomes[outcome] += 1

    def record(self, kind: str, message: str, where: str) -> None:
        """Count a finding; the first input of each (kind, where) is saved."""
        key = f"{self.target}|{kind}|{where}"
        if key in self.report.findings:
            self.report.findings[key].count += 1
            return
        number = len(self.report.findings) + 1
        saved = self.findings / f"{self.target}-seed{self.seed}-{number:03d}-{kind}"
        shutil.rmtree(saved, ignore_errors=True)
        shutil.copytree(self.current, saved)
        self.report.findings[key] = Finding(self.target, kind, message, where, str(saved))

    def run_for(self, seconds: float, report_path: Path | None = None) -> Report:
        """Try inputs for ``seconds``; the report is also written to ``report_path`` every
        few seconds, so that a crash loses little."""
        started = last_written = time.perf_counter()
        while (now := time.perf_counter()) - started < seconds:
            if report_path is not None and now - last_written > 2.0:
                self.report.seconds = now - started
                report_path.write_text(json.dumps(self.report.to_dict()))
                last_written = now
            self.step()
        self.report.seconds = time.perf_counter() - started
        if report_path is not None:
            report_path.write_text(json.dumps(self.report.to_dict()))
        return self.report


def fuzz(
    target: str,
    seconds: float,
    seed: int,
    findings: Path,
    work: Path,
    report_path: Path | None = None,
) -> Report:
    """Fuzz one target in this process for ``seconds``; findings are saved under ``findings``."""
    findings.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # decoders warn about what they repair
        return Fuzzer(target, work, findings, seed).run_for(seconds, report_path)


def fuzz_in_child(target: str, seconds: float, seed: int, findings: Path) -> Report:
    """Fuzz one target in child processes for ``seconds`` in all: a crash (a signal, an
    abort) is recorded with the input that caused it, and a new child goes on."""
    total = Report(target)
    started = time.perf_counter()
    while (left := seconds - (time.perf_counter() - started)) > 1:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as work:
            out = Path(work) / "report.json"
            command = [
                sys.executable,
                __file__,
                "--child",
                target,
                "--seconds",
                f"{left:.1f}",
                "--seed",
                str(seed),
                "--findings",
                str(findings),
                "--work",
                work,
                "--report",
                str(out),
            ]
            child = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
            if out.is_file():
                total.merge(Report.from_dict(json.loads(out.read_text())))
            if child.returncode != 0:
                saved = findings / f"{target}-crash-seed{seed}"
                shutil.rmtree(saved, ignore_errors=True)
                if (Path(work) / "current").is_dir():
                    shutil.copytree(Path(work) / "current", saved)
                detail = (child.stderr.strip().splitlines() or ["no output"])[-1]
                crash = Finding(
                    target, "crash", f"exit status {child.returncode}: {detail}", "", str(saved)
                )
                total.findings[f"{target}|crash|{seed}"] = crash
                total.tried += 1
        seed += 1000  # a crash must not replay the same inputs
    return total


def print_report(report: Report) -> None:
    rate = report.tried / report.seconds if report.seconds else 0.0
    outcomes = ", ".join(f"{k} {v}" for k, v in report.outcomes.most_common())
    print(
        f"{report.target}: {report.tried} inputs in {report.seconds:.1f} s "
        f"({rate:.0f}/s); {outcomes}"
    )
    for finding in report.findings.values():
        print(
            f"  FINDING {finding.kind} x{finding.count} at {finding.where or '-'}: "
            f"{finding.message}\n    input saved in {finding.saved}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per target")
    parser.add_argument("--target", choices=(*TARGETS, "all"), default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--findings",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ocr-pipeline-fuzz-findings",
        help="where the inputs of findings are saved (default: %(default)s)",
    )
    parser.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    findings = args.findings.resolve()
    if args.child:
        fuzz(args.child, args.seconds, args.seed, findings, args.work, args.report)
        return 0
    targets = TARGETS if args.target == "all" else (args.target,)
    reports = [fuzz_in_child(t, args.seconds, args.seed, findings) for t in targets]
    for report in reports:
        print_report(report)
    found = sum(len(r.findings) for r in reports)
    print(f"{found} finding(s)" + (f"; inputs saved under {findings}" if found else ""))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
