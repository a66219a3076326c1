"""``OCRPipeline``: photo in, words and lines with polygons out.

Stages, each its own module: load the image (``images``) -> detect text regions
(``detection``) -> rectify each region into an upright crop (``rectify``) -> read all crops
of all images in batches (``recognizer``) -> group words into lines in reading order
(``layout``) -> ``OCRResult`` (``result``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
    ):
        if isinstance(detector, (str, Path)):
            self.detector = MMOCRDetector(detector, weights=detector_weights, device=device)
        else:
            self.detector = detector  # anything with detect(images) -> detections per image
        if isinstance(recognizer, (str, Path)):
            self.recognizer = load_recognizer(
                recognizer, device=device, trust_checkpoint=trust_checkpoint
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

    def ocr_many(self, images: Iterable, images_per_batch: int = 4):
        """Yield ``(input, OCRResult | ImageError)`` for each input, batching across images."""
        pending: list = []
        for item in images:
            pending.append(item)
            if len(pending) == images_per_batch:
                yield from self._ocr_tolerant(pending)
                pending = []
        if pending:
            yield from self._ocr_tolerant(pending)

    def _ocr_tolerant(self, items: list):
        loaded, results = [], {}
        for i, item in enumerate(items):
            try:
                loaded.append((i, load_image(item, self.max_pixels)))
            except ImageError as error:
                results[i] = error
        if loaded:
            pages = [_Page(image, _path_of(items[i]), []) for i, image in loaded]
            for page, detections in zip(pages, self.detector.detect([p.image for p in pages])):
                page.detections = detections
            for (i, _), result in zip(loaded, self._read_pages(pages)):
                results[i] = result
        for i, item in enumerate(items):
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
