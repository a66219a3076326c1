"""``OCRPipeline``: photo in, a structured result (blocks, lines, words) out.

Data flows one way, each stage its own module: load the photo (``photos``) -> detect text
regions (a ``stages.Detector``) -> optionally cut lines into words (``word_splitting``) ->
rectify each region into an upright crop (``rectify``) -> read all crops of all photos in
shared batches (a ``stages.Recognizer``; the words a line reader already read surely are
left as read) -> lines and reading order (``layout``) ->
``result.OCRResult``. Running many photos (chunks, a background thread, files) is the batch
layer's job (``batch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from recognizer import ImageError, Reading

from .batch import stream_outcomes
from .layout import group_into_lines
from .orientation import turn_image, turn_points
from .photos import load_photo
from .rectify import order_quadrilateral, rectify_polygon
from .result import OCRResult, Word, assemble_page
from .spec import PipelineSpec
from .stages import Detection, Detector, Recognizer
from .stores import StoredPath
from .word_splitting import WordSplitter


@dataclass
class Page:
    """A loaded photo and the text regions found on it.

    ``image`` and ``detections`` are the photo turned upright: ``orientation`` degrees
    clockwise from the photo as loaded (``photo_size``, width x height)."""

    image: np.ndarray
    path: str | None
    detections: list[Detection]
    orientation: int = 0
    photo_size: tuple[int, int] = (0, 0)


@dataclass
class DetectedChunk:
    """Inputs detected together; ``pages[k]`` is the loaded input ``page_index[k]``."""

    items: list
    pages: list[Page] = field(default_factory=list)
    page_index: list[int] = field(default_factory=list)
    errors: dict[int, ImageError] = field(default_factory=dict)


Outcome = OCRResult | ImageError
# Photos narrower or lower than this hold no readable text; detectors enlarge them to their
# input size and then find text in the blur (a 1x1 image read as "SALE").
MIN_PHOTO_SIDE = 8
# The line reader's reading of a word stands without the recognizer's only for words of at
# least this many letters and digits (``OCRPipeline.line_reader_trust``).
TRUSTED_MIN_CHARS = 4


class OCRPipeline:
    """Detector + recognizer. ``ocr(image)`` for one photo, ``ocr_many(images)`` for many.

    Built from ready stages (any ``Detector`` and ``Recognizer``) or from names and settings
    (see ``PipelineSpec``, whose fields are the keyword arguments here too)::

        OCRPipeline()                                        # the default models
        OCRPipeline(recognizer="clip4str-base", device="cuda:0")
        OCRPipeline(my_detector, recognizer.load("default"))  # ready stages
        OCRPipeline.from_spec(spec)                          # e.g. in another process

    ``spec`` is the description it was built from (None when given ready stages).
    """

    def __init__(
        self,
        detector: str | Path | Detector = "default",
        recognizer: str | Path | Recognizer = "default",
        *,
        word_splitter: WordSplitter | None = None,
        **settings,
    ):
        detector_named = isinstance(detector, (str, Path))
        recognizer_named = isinstance(recognizer, (str, Path))
        spec = PipelineSpec(
            detector=_name_of(detector), recognizer=_name_of(recognizer), **settings
        )
        # Only a pipeline built wholly from names can be described (and rebuilt) by its spec.
        self.spec = spec if detector_named and recognizer_named else None
        self.detector = spec.build_detector() if detector_named else detector
        self.word_splitter = word_splitter or spec.build_word_splitter()
        if self.word_splitter is not None and getattr(self.detector, "cuts_words", False):
            raise ValueError(
                f"detector {_name_of(detector)} already cuts its lines into words; cutting its "
                "words again would lose the line reader's reading of each: leave out "
                "split_words (--split-words), or pick the cutting with the detector "
                "(--detector default-ink cuts at gaps in the ink)"
            )
        self.recognizer = spec.build_recognizer() if recognizer_named else recognizer
        self.orientation = spec.build_orientation()
        self.batch_size = spec.batch_size
        self.max_pixels = spec.max_pixels
        self.min_confidence = spec.min_confidence
        self.line_reader_margin = spec.line_reader_margin
        self.line_reader_trust = spec.line_reader_trust
        self.models = spec.model_labels()

    @classmethod
    def from_spec(cls, spec: PipelineSpec) -> OCRPipeline:
        settings = spec.to_dict()
        return cls(settings.pop("detector"), settings.pop("recognizer"), **settings)

    # ------------------------------------------------------------------ entry points

    def ocr(self, image) -> OCRResult:
        """The result for one image (path, PIL image or RGB array)."""
        return self.ocr_batch([image])[0]

    def ocr_batch(self, images: Sequence) -> list[OCRResult]:
        """All images of the list at once: one detector batch, crops read in shared batches.

        Raises ``ImageError`` for the first input that is not a usable image; use
        ``ocr_many`` to go on past bad inputs.
        """
        results = []
        for _, outcome in self.read_chunk(self.detect_chunk(list(images))):
            if isinstance(outcome, ImageError):
                raise outcome
            results.append(outcome)
        return results

    def ocr_many(
        self, images: Iterable, images_per_batch: int = 4, overlap: bool = True
    ) -> Iterator[tuple[object, Outcome]]:
        """Yield ``(input, OCRResult | ImageError)`` for each input, in input order.

        See ``pipeline.batch.stream_outcomes``: chunks of ``images_per_batch``, with the
        next chunk detected in a background thread when ``overlap`` is set."""
        return stream_outcomes(self, images, images_per_batch, overlap)

    # ------------------------------------------------------------------ stages

    def detect_chunk(self, items: list) -> DetectedChunk:
        """Load every input of the chunk (bad ones become ``ImageError``) and detect."""
        chunk = DetectedChunk(items)
        for i, item in enumerate(items):
            try:
                image = load_photo(item, self.max_pixels)
            except ImageError as error:
                chunk.errors[i] = error
                continue
            size = (image.shape[1], image.shape[0])
            chunk.pages.append(Page(image, _path_of(item), [], photo_size=size))
            chunk.page_index.append(i)
        readable = [p for p in chunk.pages if min(p.image.shape[:2]) >= MIN_PHOTO_SIDE]
        if readable:
            found = self.detector.detect([p.image for p in readable])
            for page, detections in zip(readable, found):
                if self.word_splitter is not None:
                    detections = self.word_splitter.split_detections(page.image, detections)
                page.detections = detections
                if self.orientation is not None:
                    self._turn_upright(page)
        return chunk

    def _turn_upright(self, page: Page) -> None:
        """Turn a page that lies on its side or upside down, with its regions."""
        degrees = self.orientation.of_page(page.image, page.detections, self.recognizer)
        if degrees == 0:
            return
        width, height = page.photo_size
        page.image = turn_image(page.image, degrees)
        page.detections = [
            Detection(
                _upright_order(turn_points(d.polygon, degrees, width, height)), d.score, d.reading
            )
            for d in page.detections
        ]
        page.orientation = degrees

    def read_chunk(
        self, chunk: DetectedChunk, min_confidence: Sequence[float] | None = None
    ) -> Iterator[tuple[object, Outcome]]:
        """``(input, OCRResult | ImageError)`` for each input of a detected chunk.

        ``min_confidence``: a cut-off for each input (callers that read several requests
        together, each with its own); None: the pipeline's ``min_confidence`` for all."""
        outcomes: dict[int, Outcome] = dict(chunk.errors)
        if chunk.pages:
            cut_offs = (
                None if min_confidence is None else [min_confidence[i] for i in chunk.page_index]
            )
            for i, result in zip(chunk.page_index, self.read_pages(chunk.pages, cut_offs)):
                outcomes[i] = result
        for i, item in enumerate(chunk.items):
            yield item, outcomes[i]

    def read_pages(
        self, pages: list[Page], min_confidence: Sequence[float] | None = None
    ) -> list[OCRResult]:
        """Rectify every region of every page, read all crops together, assemble each page
        (leaving out words the recognizer reads with a confidence under
        ``min_confidence[p]``, or the pipeline's cut-off; a word's text is the line reader's
        where that is surer, see ``line_reader_margin``). A word the line reader is sure
        of (``line_reader_trust``) is not read again."""
        crops, owners = [], []  # owners[k] = (page index, detection index)
        best: dict[tuple[int, int], Reading] = {}
        for p, page in enumerate(pages):
            for d, detection in enumerate(page.detections):
                if line_reading_stands(detection.reading, self.line_reader_trust):
                    best[(p, d)] = detection.reading
                    continue
                for variant in _crop_variants(page.image, detection.polygon):
                    crops.append(variant)
                    owners.append((p, d))
        readings = self.recognizer.read(crops, batch_size=self.batch_size) if crops else []
        for owner, reading in zip(owners, readings):
            if owner not in best or reading.confidence > best[owner].confidence:
                best[owner] = reading
        cut_offs = min_confidence or [self.min_confidence] * len(pages)
        return [self._assemble(p, page, best, cut_offs[p]) for p, page in enumerate(pages)]

    def _assemble(self, p: int, page: Page, best: dict, min_confidence: float) -> OCRResult:
        words = []
        for d, detection in enumerate(page.detections):
            reading = best[(p, d)]
            # Whether a region holds a word at all is the recognizer's call; its text may
            # still be the line reader's.
            if reading.text and reading.confidence >= min_confidence:
                reading = surer_reading(reading, detection.reading, self.line_reader_margin)
                polygon = detection.polygon.tolist()
                words.append(Word(polygon, reading.text, reading.confidence, detection.score))
        groups = group_into_lines([np.asarray(w.polygon) for w in words])
        height, width = page.image.shape[:2]
        result = assemble_page(words, groups, width, height, page.path, dict(self.models))
        return result.turned_back(page.orientation) if page.orientation else result


def line_reading_stands(line_reading: Reading | None, trust: float | None) -> bool:
    """Whether the line reader's reading of a word stands without the recognizer's: at
    least ``trust`` sure (None: never), of a word of ``TRUSTED_MIN_CHARS`` letters or digits
    or more (a confident reading of one or two characters is often of a mark)."""
    return (
        trust is not None
        and line_reading is not None
        and line_reading.confidence >= trust
        and sum(c.isalnum() for c in line_reading.text) >= TRUSTED_MIN_CHARS
    )


def surer_reading(reading: Reading, line_reading: Reading | None, margin: float | None) -> Reading:
    """The recognizer's reading of a word, or the line reader's where it is surer by more
    than ``margin`` (None: never) and it read something."""
    if margin is None or line_reading is None or not line_reading.text:
        return reading
    return line_reading if line_reading.confidence > reading.confidence + margin else reading


def _crop_variants(image: np.ndarray, polygon: np.ndarray) -> list[np.ndarray]:
    """The upright crop of a region; a tall (vertical) one also turned both ways, a curved
    one also upside down (round the bottom of a badge, words may face outwards), and the
    most confident reading wins."""
    crop = rectify_polygon(image, polygon)
    if len(polygon) > 4 and not crop.vertical:
        return [crop.image, cv2.rotate(crop.image, cv2.ROTATE_180)]
    if not crop.vertical:
        return [crop.image]
    return [
        crop.image,
        cv2.rotate(crop.image, cv2.ROTATE_90_CLOCKWISE),
        cv2.rotate(crop.image, cv2.ROTATE_90_COUNTERCLOCKWISE),
    ]


def _upright_order(polygon: np.ndarray) -> np.ndarray:
    """A turned region's points from its (new) top-left corner on, clockwise: corners of a
    quadrilateral re-ordered; a longer polygon (top edge, then bottom edge) turned upside
    down starts half-way round."""
    polygon = polygon.astype(np.float32)
    if len(polygon) == 4:
        return order_quadrilateral(polygon)
    return np.roll(polygon, len(polygon) // 2, axis=0)


def _name_of(stage) -> str:
    return str(stage) if isinstance(stage, (str, Path)) else type(stage).__name__


def _path_of(item) -> str | None:
    return str(item) if isinstance(item, (str, Path, StoredPath)) else None
