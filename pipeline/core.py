"""``OCRPipeline``: photo in, words and lines with polygons out.

Stages, each its own module: load the image (``images``) -> detect text regions
(``detection``) -> rectify each region into an upright crop (``rectify``) -> read all crops
of all images in batches (``recognizer``) -> group words into lines in reading order
(``layout``) -> ``OCRResult`` (``result``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from recognizer import CLIP4STR, Reading
from recognizer import load as load_recognizer
from recognizer.images import ImageError

from .detection import Detection, MMOCRDetector
from .images import DEFAULT_MAX_PIXELS, load_image
from .layout import group_into_lines
from .rectify import order_quadrilateral, rectify_polygon
from .result import Line, OCRResult, Word


@dataclass
class _Page:
    image: np.ndarray
    path: str | None
    detections: list[Detection]


@dataclass
class _Chunk:
    """Inputs detected together; ``pages[k]`` is the loaded input ``page_index[k]``."""

    items: list
    pages: list[_Page] = field(default_factory=list)
    page_index: list[int] = field(default_factory=list)
    errors: dict[int, ImageError] = field(default_factory=dict)


@dataclass
class _Failure:
    error: BaseException


_DONE = object()


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def line_polygon(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """The smallest rotated rectangle around all words of a line, clockwise from top-left."""
    points = np.concatenate([np.asarray(p, dtype=np.float32).reshape(-1, 2) for p in polygons])
    box = cv2.boxPoints(cv2.minAreaRect(points))
    return order_quadrilateral(box)


def _model_name(model) -> str:
    return str(model) if isinstance(model, (str, Path)) else type(model).__name__


class OCRPipeline:
    """Detector + recognizer. ``ocr(image)`` for one photo, ``ocr_many(images)`` for many.

    ``detector``: a name (``default``, ``dbnet``, ``dbnetpp``), an MMOCR config path, or an
    object with ``detect(list of RGB arrays) -> list of Detection lists``. ``recognizer``: a
    name (``default``, ``clip4str-base`` ...), a checkpoint path, or a loaded ``CLIP4STR``.
    ``recognizer_backend``: ``torch`` (exact), ``onnx`` (ONNX Runtime, CPU) or
    ``onnx-int8`` (ONNX Runtime with an int8 image encoder);
    ``recognizer_precision``: ``fp32`` (exact) or ``bf16`` (autocast, torch backend).
    Words read with a confidence below ``min_confidence`` are left out of the result.
    """

    def __init__(
        self,
        detector: str | Path | MMOCRDetector = "default",
        recognizer: str | Path | CLIP4STR = "default",
        device: str = "cpu",
        batch_size: int = 64,
        detector_weights: str | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        trust_checkpoint: bool = False,
        min_confidence: float = 0.0,
        recognizer_backend: str = "torch",
        recognizer_precision: str = "fp32",
    ):
        if isinstance(detector, (str, Path)):
            self.detector = MMOCRDetector(detector, weights=detector_weights, device=device)
        else:
            self.detector = detector  # anything with detect(images) -> detections per image
        if isinstance(recognizer, (str, Path)):
            self.recognizer = load_recognizer(
                recognizer,
                device=device,
                trust_checkpoint=trust_checkpoint,
                backend=recognizer_backend,
                precision=recognizer_precision,
            )
        else:
            self.recognizer = recognizer  # a loaded CLIP4STR, or anything with read()
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.min_confidence = min_confidence
        self.models = {"detector": _model_name(detector), "recognizer": _model_name(recognizer)}

    def ocr(self, image) -> OCRResult:
        """Words, lines and full text of one image (path, PIL image or RGB array)."""
        return self.ocr_batch([image])[0]

    def ocr_batch(self, images: Sequence) -> list[OCRResult]:
        """All images of the list at once: one detector batch, crops read in shared batches.

        Raises ``ImageError`` for the first input that is not a usable image; use
        ``ocr_many`` to go on past bad inputs.
        """
        results = []
        for _, outcome in self._ocr_tolerant(list(images)):
            if isinstance(outcome, ImageError):
                raise outcome
            results.append(outcome)
        return results

    def ocr_many(self, images: Iterable, images_per_batch: int = 4, overlap: bool = True):
        """Yield ``(input, OCRResult | ImageError)`` for each input, in input order.

        Images go through in chunks of ``images_per_batch`` (crops of a chunk share
        recognizer batches). With ``overlap`` a background thread loads and detects the next
        chunk while this one is recognised; at most two chunks are held at a time, so memory
        stays flat however many inputs there are.
        """
        chunks = _chunks(images, images_per_batch)
        if not overlap:
            for items in chunks:
                yield from self._recognise_chunk(self._detect_chunk(items))
            return
        detected: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()

        def offer(item) -> bool:
            """Queue ``item`` unless the consumer has gone away."""
            while not stop.is_set():
                try:
                    detected.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce():
            try:
                for items in chunks:
                    if not offer(self._detect_chunk(items)):
                        return
                offer(_DONE)
            except BaseException as error:  # handed to the consumer, raised there
                offer(_Failure(error))

        worker = threading.Thread(target=produce, name="ocr-detect", daemon=True)
        worker.start()
        try:
            while True:
                chunk = detected.get()
                if chunk is _DONE:
                    break
                if isinstance(chunk, _Failure):
                    raise chunk.error
                yield from self._recognise_chunk(chunk)
        finally:
            stop.set()
            worker.join()

    def _ocr_tolerant(self, items: list):
        return self._recognise_chunk(self._detect_chunk(items))

    def _detect_chunk(self, items: list) -> _Chunk:
        """Load every input of the chunk (bad ones become ``ImageError``) and detect."""
        chunk = _Chunk(items)
        for i, item in enumerate(items):
            try:
                image = load_image(item, self.max_pixels)
            except ImageError as error:
                chunk.errors[i] = error
                continue
            chunk.pages.append(_Page(image, _path_of(item), []))
            chunk.page_index.append(i)
        if chunk.pages:
            found = self.detector.detect([p.image for p in chunk.pages])
            for page, detections in zip(chunk.pages, found):
                page.detections = detections
        return chunk

    def _recognise_chunk(self, chunk: _Chunk):
        results: dict[int, OCRResult | ImageError] = dict(chunk.errors)
        if chunk.pages:
            for i, result in zip(chunk.page_index, self._read_pages(chunk.pages)):
                results[i] = result
        for i, item in enumerate(chunk.items):
            yield item, results[i]

    # ------------------------------------------------------------------ stages

    def _read_pages(self, pages: list[_Page]) -> list[OCRResult]:
        crops, owners = [], []  # owners[k] = (page index, detection index)
        for p, page in enumerate(pages):
            for d, detection in enumerate(page.detections):
                crop = rectify_polygon(page.image, detection.polygon)
                variants = [crop.image]
                if crop.vertical:
                    variants += [
                        cv2.rotate(crop.image, cv2.ROTATE_90_CLOCKWISE),
                        cv2.rotate(crop.image, cv2.ROTATE_90_COUNTERCLOCKWISE),
                    ]
                for variant in variants:
                    crops.append(variant)
                    owners.append((p, d))
        readings = self.recognizer.read(crops, batch_size=self.batch_size) if crops else []
        best: dict[tuple[int, int], Reading] = {}
        for owner, reading in zip(owners, readings):
            if owner not in best or reading.confidence > best[owner].confidence:
                best[owner] = reading
        return [self._assemble(p, page, best) for p, page in enumerate(pages)]

    def _assemble(self, p: int, page: _Page, best: dict) -> OCRResult:
        words = []
        for d, detection in enumerate(page.detections):
            reading = best[(p, d)]
            if reading.text and reading.confidence >= self.min_confidence:
                words.append(
                    Word(
                        detection.polygon.tolist(),
                        reading.text,
                        reading.confidence,
                        detection.score,
                    )
                )
        groups = group_into_lines([np.asarray(w.polygon) for w in words])
        ordered = [i for group in groups for i in group]
        words = [words[i] for i in ordered]
        lines, start = [], 0
        for group in groups:
            members = list(range(start, start + len(group)))
            polygon = line_polygon([np.asarray(words[i].polygon) for i in members])
            lines.append(Line(polygon.tolist(), [words[i] for i in members], members))
            start += len(group)
        height, width = page.image.shape[:2]
        return OCRResult(words, lines, width, height, page.path, dict(self.models))


def _path_of(item) -> str | None:
    return str(item) if isinstance(item, (str, Path)) else None
