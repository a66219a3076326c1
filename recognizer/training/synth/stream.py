"""Training batches rendered on the fly in worker processes, optionally mixed with real crops.

>>> with SynthStream(batch_size=64, seed=0) as stream:
...     for step, (images, labels) in enumerate(stream):
...         stream.difficulty = min(1.0, step / 10_000)   # read by the workers per batch
...         stream.stage = 2 if step > 2_000 else 0        # text curriculum (words.CURRICULUM)
...         ...

Workers are started with the 'spawn' method (safe with threads and CUDA in the parent), run
OpenCV and torch single-threaded, and put whole batches on a bounded queue, so rendering runs
ahead of training by at most ``queue_size`` batches. ``close()`` (or leaving the ``with``
block) stops and reaps them. As with any spawned process, the training script must guard its
entry point with ``if __name__ == "__main__":``.

With one worker the batches are a deterministic function of the seed as long as difficulty and
stage are not changed while it runs; several workers interleave their batches in whatever order
they finish.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from recognizer.images import image_to_tensor, open_image
from recognizer.tokenizer import normalize_label

from .fonts import DEFAULT_FONT_DIRS, discover_fonts
from .render import WordRenderer, degrade, load_background_photos
from .words import CHARSET, CURRICULUM, MAX_LENGTH, TextSampler, curriculum_config

Batch = tuple[torch.Tensor, list[str]]


@dataclass(frozen=True)
class StreamConfig:
    """What the workers render; picklable, handed to each spawned worker."""

    batch_size: int = 64
    image_size: tuple[int, int] = (32, 128)  # (height, width)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    resize: str = "stretch"  # recognizer.images.RESIZE_MODES
    max_length: int = MAX_LENGTH
    font_dirs: tuple[str, ...] = DEFAULT_FONT_DIRS
    photo_dirs: tuple[str, ...] = ()
    skimage_photos: bool = True
    real_ratio: float = 0.0  # share of samples taken from the real crops, when given


def light_augment(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mild changes that keep a real crop's label true: tilt, crop jitter, light, blur, JPEG."""
    array = np.asarray(image)
    height, width = array.shape[:2]
    if rng.random() < 0.5:
        angle = rng.uniform(-3, 3)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        array = cv2.warpAffine(array, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:  # trim or pad each side by up to 4 % of the height
        top, bottom, left, right = (rng.uniform(-0.04, 0.04, 4) * height).round().astype(int)
        array = cv2.copyMakeBorder(
            array, max(top, 0), max(bottom, 0), max(left, 0), max(right, 0), cv2.BORDER_REPLICATE
        )
        h, w = array.shape[:2]
        array = array[max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
    if rng.random() < 0.5:
        gain, bias = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
        array = np.clip(array.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        array = cv2.GaussianBlur(array, (0, 0), rng.uniform(0.3, 0.9))
    if rng.random() < 0.2:
        ok, encoded = cv2.imencode(
            ".jpg", array, (cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 90)))
        )
        if ok:
            array = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return Image.fromarray(np.ascontiguousarray(array))


def strong_augment(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """:func:`light_augment` plus a perspective change, color changes and the renderer's
    camera effects (uneven light, lines across, blur, low resolution, noise, contrast, JPEG).

    For real crops that a training run sees many times: it keeps the label true while making
    each showing look different, so that the model learns the words rather than the pictures.
    """
    array = np.asarray(image)
    height, width = array.shape[:2]
    if rng.random() < 0.3 and min(height, width) >= 4:
        corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
        reach = np.float32([0.06 * width, 0.12 * height])
        moved = corners + rng.uniform(-1, 1, (4, 2)).astype(np.float32) * reach
        matrix = cv2.getPerspectiveTransform(moved, corners)
        array = cv2.warpPerspective(array, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    array = np.asarray(light_augment(Image.fromarray(np.ascontiguousarray(array)), rng))
    if rng.random() < 0.1:
        array = 255 - array
    if rng.random() < 0.15:
        gray = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2GRAY)
        array = np.repeat(gray[:, :, None], 3, axis=2)
    elif rng.random() < 0.2:
        array = array[:, :, rng.permutation(3)]
    array = degrade(np.array(array), 0.7 * array.shape[0], rng, rng.uniform(0.2, 0.7))
    return Image.fromarray(np.ascontiguousarray(array))


AUGMENTATIONS = {"none": None, "light": light_augment, "strong": strong_augment}


class RealCropDataset:
    """Labelled word crops listed in ``labels.tsv`` (``relative/path<TAB>label[<TAB>source]``).

    Labels are normalized as the released models were trained (see ``normalize_label``);
    rows whose label does not survive are skipped. Indexing gives ``(tensor, label)`` with the
    recognizer's own preprocessing (plus an augmentation when ``augment`` is true, which means
    :func:`light_augment`, or is one of the names of ``AUGMENTATIONS``), so this also serves as
    a plain PyTorch dataset for validation.
    """

    def __init__(
        self,
        root: str | Path,
        image_size: tuple[int, int] = (32, 128),
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        charset: str = CHARSET,
        max_length: int = MAX_LENGTH,
        augment: bool | str = False,
        labels_file: str = "labels.tsv",
        resize: str = "stretch",
    ) -> None:
        self.root = Path(root)
        self.image_size, self.mean, self.std = tuple(image_size), tuple(mean), tuple(std)
        self.resize = resize
        if isinstance(augment, bool):
            augment = "light" if augment else "none"
        if augment not in AUGMENTATIONS:
            raise ValueError(f"augment={augment!r}: expected one of {', '.join(AUGMENTATIONS)}")
        self.augment = AUGMENTATIONS[augment]
        self.items: list[tuple[str, str]] = []
        lines = (self.root / labels_file).read_text(encoding="utf-8").splitlines()
        for line in lines:
            fields = line.split("\t")
            if len(fields) < 2 or not fields[0]:
                continue
            label = normalize_label(fields[1], charset, max_length)
            if label is not None:
                self.items.append((fields[0], label))
        if not self.items:
            raise ValueError(f"{self.root / labels_file}: no usable labelled crops")

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> tuple[Image.Image, str]:
        """The crop as an RGB image (EXIF-upright) and its label."""
        path, label = self.items[index]
        return open_image(self.root / path), label

    def sample(self, rng: np.random.Generator) -> tuple[Image.Image, str]:
        """A random crop, augmented when the dataset augments."""
        image, label = self.load(int(rng.integers(len(self.items))))
        return (self.augment(image, rng) if self.augment else image), label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        image, label = self.load(index)
        if self.augment:
            image = self.augment(image, np.random.default_rng())
        return image_to_tensor(image, self.image_size, self.mean, self.std, self.resize), label


@dataclass(frozen=True)
class _WorkerError:
    worker: int
    message: str


def render_batch(
    renderer: WordRenderer,
    sampler: TextSampler,
    rng: np.random.Generator,
    config: StreamConfig,
    difficulty: float,
    real: RealCropDataset | None = None,
) -> tuple[np.ndarray, list[str]]:
    """One batch as a float32 array ``(B, 3, H, W)`` normalized like the recognizer's input."""
    tensors, labels = [], []
    for _ in range(config.batch_size):
        if real is not None and rng.random() < config.real_ratio:
            image, label = real.sample(rng)
        else:
            label = sampler.sample(rng)
            image = renderer.render(label, rng, difficulty)
        tensors.append(
            image_to_tensor(image, config.image_size, config.mean, config.std, config.resize)
        )
        labels.append(label)
    return torch.stack(tensors).numpy(), labels


def _worker_main(
    worker: int,
    seed: np.random.SeedSequence,
    config: StreamConfig,
    real: RealCropDataset | None,
    batches: mp.Queue,
    stop,
    difficulty,
    stage,
) -> None:
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    try:
        rng = np.random.default_rng(seed)
        fonts = discover_fonts(config.font_dirs)
        photos = load_background_photos(config.photo_dirs, include_skimage=config.skimage_photos)
        renderer = WordRenderer(fonts, photos)
        current_stage = stage.value
        sampler = TextSampler(curriculum_config(current_stage, config.max_length))
        while not stop.is_set():
            if stage.value != current_stage:
                current_stage = stage.value
                sampler = sampler.with_config(curriculum_config(current_stage, config.max_length))
            batch = render_batch(renderer, sampler, rng, config, difficulty.value, real)
            while not stop.is_set():
                try:
                    batches.put(batch, timeout=0.1)
                    break
                except queue_module.Full:
                    continue
    except KeyboardInterrupt:
        pass
    except Exception:  # reported to the parent, which raises it
        try:
            batches.put(_WorkerError(worker, traceback.format_exc()), timeout=5.0)
        except queue_module.Full:
            pass  # the parent sees the exit code instead
    finally:
        # At exit the queue's feeder thread finishes writing what was put, while the parent's
        # close() reads it. Exiting in the middle of a batch would leave half a message in the
        # pipe, and the parent's read of it would never return. Only an orphan, whose batches
        # nobody will read, leaves without flushing.
        parent = mp.parent_process()
        if parent is None or not parent.is_alive():
            batches.cancel_join_thread()


class SynthStream:
    """An endless iterator of ``(images, labels)`` batches rendered by spawned workers.

    ``images`` is a float tensor ``(batch_size, 3, H, W)`` for ``image_size=(H, W)``,
    normalized with ``mean``/``std``; ``labels`` a list of strings. ``difficulty`` (render
    effects, 0..1) and ``stage`` (index into ``words.CURRICULUM``) can be changed while the
    stream runs. With a ``real`` dataset, each sample is a real crop with probability
    ``real_ratio``. ``font_dirs``, ``photo_dirs`` and ``skimage_photos`` choose the fonts and
    background photos the workers load.
    """

    def __init__(
        self,
        batch_size: int = 64,
        image_size: tuple[int, int] = (32, 128),
        seed: int = 0,
        difficulty: float = 0.5,
        stage: int = len(CURRICULUM) - 1,
        num_workers: int = 1,
        queue_size: int = 4,
        real: RealCropDataset | None = None,
        real_ratio: float = 0.0,
        *,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        resize: str = "stretch",
        max_length: int = MAX_LENGTH,
        font_dirs: Sequence[str] = DEFAULT_FONT_DIRS,
        photo_dirs: Sequence[str] = (),
        skimage_photos: bool = True,
    ) -> None:
        if num_workers < 1 or queue_size < 1 or batch_size < 1:
            raise ValueError("batch_size, num_workers and queue_size must be at least 1")
        if not 0.0 <= real_ratio <= 1.0 or (real_ratio > 0 and real is None):
            raise ValueError("real_ratio must be in [0, 1] and needs a RealCropDataset")
        self.config = StreamConfig(
            batch_size=batch_size,
            image_size=(int(image_size[0]), int(image_size[1])),
            mean=tuple(mean),
            std=tuple(std),
            resize=resize,
            max_length=max_length,
            font_dirs=tuple(str(d) for d in font_dirs),
            photo_dirs=tuple(str(d) for d in photo_dirs),
            skimage_photos=skimage_photos,
            real_ratio=real_ratio,
        )
        self.seed, self.num_workers, self.real = seed, num_workers, real
        self._context = mp.get_context("spawn")
        self._difficulty = self._context.Value("d", float(difficulty))
        self._stage = self._context.Value("i", int(stage))
        self._stop = self._context.Event()
        self._queue = self._context.Queue(maxsize=queue_size)
        self._workers: list = []
        self._closed = False

    # Settable while running: the workers read both before each batch.
    @property
    def difficulty(self) -> float:
        return self._difficulty.value

    @difficulty.setter
    def difficulty(self, value: float) -> None:
        self._difficulty.value = float(np.clip(value, 0.0, 1.0))

    @property
    def stage(self) -> int:
        return self._stage.value

    @stage.setter
    def stage(self, value: int) -> None:
        self._stage.value = int(value)

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    def start(self) -> None:
        if self._closed:
            raise RuntimeError("this SynthStream is closed")
        if self._workers:
            return
        seeds = np.random.SeedSequence(self.seed).spawn(self.num_workers)
        for worker, seed in enumerate(seeds):
            process = self._context.Process(
                target=_worker_main,
                args=(worker, seed, self.config, self.real, self._queue, self._stop,
                      self._difficulty, self._stage),
                name=f"synth-worker-{worker}",
                daemon=True,
            )  # fmt: skip
            process.start()
            self._workers.append(process)

    def next_batch(self, timeout: float | None = None) -> Batch:
        """The next batch; raises if a worker failed or nothing came within ``timeout``."""
        self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue_module.Empty:
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    codes = ", ".join(f"{w.name}: {w.exitcode}" for w in dead)
                    self.close()
                    raise RuntimeError(f"synth worker exited unexpectedly ({codes})") from None
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"no batch within {timeout} s") from None
                continue
            if isinstance(item, _WorkerError):
                self.close()
                raise RuntimeError(f"synth worker {item.worker} failed:\n{item.message}")
            images, labels = item
            return torch.from_numpy(images), labels

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.next_batch()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers and reap them; terminate any that do not stop within ``timeout``."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            while worker.is_alive() and time.monotonic() < deadline:
                self._drain()  # a worker blocked writing a batch needs the pipe emptied
                worker.join(timeout=0.05)
        for worker in self._workers:
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=2.0)
            if worker.is_alive():
                worker.kill()
                worker.join()
            worker.close()
        # No final drain: a worker killed while writing leaves a partial message that a
        # read would wait on forever. The parent never writes, so nothing needs flushing.
        self._queue.cancel_join_thread()
        self._queue.close()
        self._workers = []

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except (queue_module.Empty, OSError, ValueError):
            pass

    def __enter__(self) -> SynthStream:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close(timeout=1.0)
        except Exception:  # at interpreter shutdown there is nobody left to tell
            pass
