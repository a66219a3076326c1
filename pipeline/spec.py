"""``PipelineSpec``: a pipeline described by names and settings, built where it runs.

A spec is small and picklable (strings, numbers, a dict), so it can be sent to another
process or machine, which builds the detector and recognizer there; ``OCRPipeline`` itself
holds loaded models.

>>> spec = PipelineSpec(recognizer="clip4str-base", device="cuda:0")
>>> OCRPipeline.from_spec(spec).ocr("photo.jpg")
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import recognizer

from .photos import DEFAULT_MAX_PIXELS
from .splitters import make_word_splitter
from .stages import Detector, Recognizer
from .word_splitting import WordSplitter

if TYPE_CHECKING:
    from .ctc_splitting import CTCWordSplitter

# Words the recognizer reads with less confidence are left out by default: mostly wrong
# readings (confidence 0.00-0.02 on upside-down or blurred text). Chosen on the 100 dev
# photos as the cut-off with the best end-to-end H-mean among those that keep detection
# H-mean at least what it is without one (0.10-0.40); see README "Measured".
DEFAULT_MIN_CONFIDENCE = 0.4
# A word's text is the line reader's (the reading that cut it out of its line) instead of
# the recognizer's when the line reader is surer of it by more than this; None: never.
# Chosen on the dev photos (end to end 0.722 -> 0.736) and confirmed on val (0.599 -> 0.605)
# with the recognizer before its encoder was fine-tuned. With the fine-tuned one, dev read
# best without it (0.747 against 0.736) but val did not confirm that (0.612 against 0.623),
# so it stays. See README "Measured".
DEFAULT_LINE_READER_MARGIN: float | None = 0.0
# A word the line reader read with at least this confidence (and 4 letters or digits or
# more) is not read again by the recognizer: its text and confidence are the line reader's.
# 30% fewer crops for the recognizer (end-to-end figures: README "Measured").
DEFAULT_LINE_READER_TRUST: float | None = 0.98


@dataclass(frozen=True)
class PipelineSpec:
    """Which models, with which settings.

    ``detector``: a name (``default``, ``dbnet``, ``dbnetpp``) or an MMOCR config path;
    ``recognizer``: a name (``default``, ``clip4str-base`` ...), a checkpoint or an ONNX
    export folder; ``recognizer_backend``: ``torch`` (exact), ``onnx`` or ``onnx-int8``;
    ``recognizer_precision``: ``fp32`` (exact) or ``bf16`` (autocast, torch backend).
    ``split_words``: settings of ``splitters.make_word_splitter`` to cut the
    detector's lines into words, for detectors that find lines (``{}``: at the spaces of a
    line reader, ``{"method": "ink", ...}``: at gaps in the ink; the default detector's
    config already does it); None keeps the detector's regions as they are.
    Words read with a confidence below ``min_confidence`` are left out of the result
    (``DEFAULT_MIN_CONFIDENCE``; 0 keeps every word).
    ``line_reader_margin``: where the detection stage read a word too (the line reader that
    cut it out of its line: ``pipeline.ctc_splitting``), its reading replaces the
    recognizer's when its confidence is higher by more than this margin
    (``DEFAULT_LINE_READER_MARGIN``); None: the recognizer's reading always. Which words
    are kept (``min_confidence``) stays the recognizer's call either way.
    ``line_reader_trust``: a word the line reader read with at least this confidence (and
    ``core.TRUSTED_MIN_CHARS`` letters or digits) is not read by the recognizer at all
    (``DEFAULT_LINE_READER_TRUST``); None: every word is read by the recognizer.
    ``orient_pages``: turn photos taken sideways or upside down upright before reading
    (``orientation.PageOrientation``; polygons stay in the photo's own pixels).
    """

    detector: str = "default"
    recognizer: str = "default"
    device: str = "cpu"
    detector_weights: str | None = None
    recognizer_backend: str = "torch"
    recognizer_precision: str = "fp32"
    trust_checkpoint: bool = False
    split_words: dict | None = None
    batch_size: int = 64
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    line_reader_margin: float | None = DEFAULT_LINE_READER_MARGIN
    line_reader_trust: float | None = DEFAULT_LINE_READER_TRUST
    orient_pages: bool = True
    # Free-form labels recorded in each result's "models" (defaults: the two names).
    labels: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def build_detector(self) -> Detector:
        from .openmmlab.detector import MMOCRDetector  # loads the OpenMMLab stack

        return MMOCRDetector(self.detector, weights=self.detector_weights, device=self.device)

    def build_recognizer(self) -> Recognizer:
        return recognizer.load(
            self.recognizer,
            device=self.device,
            trust_checkpoint=self.trust_checkpoint,
            backend=self.recognizer_backend,
            precision=self.recognizer_precision,
        )

    def build_orientation(self):
        from .orientation import PageOrientation

        return PageOrientation() if self.orient_pages else None

    def build_word_splitter(self) -> WordSplitter | CTCWordSplitter | None:
        return None if self.split_words is None else make_word_splitter(self.split_words)

    def model_labels(self) -> dict[str, str]:
        return {"detector": str(self.detector), "recognizer": str(self.recognizer), **self.labels}
