"""Cutting detected text lines into words where a line reader puts the spaces.

Gaps in the ink do not mark words reliably: letters of one word stand apart in wide or
low-resolution type, and the words of a tight line touch. A model that reads the whole line
and aligns each character to a position along it does: PP-OCRv6 small's text-line
recognizer (ONNX, shipped in the ``rapidocr`` wheel that the default detector comes from)
reads a line as one CTC output per 8 pixels of a 48-pixel-high strip, spaces included.

A line is straightened into such a strip (along its centre curve when it is curved), read,
and cut at each space it holds: the cut lies halfway between the last character of one word
and the first of the next. A frame read as blank that is likely enough a space
(``space_above``) counts as one: the reader often sees a tight space without reading it
outright. A word then reaches from its cut to the next; at the line's two
ends, and where a space is wide, it is trimmed to about half a character pitch beyond its
outer characters, so that boxes hold whole words without taking in the gap.

Each word keeps the reader's text for it (a ``recognizer.Reading``): the pipeline can weigh
it against the word recognizer's reading of the word's crop (``OCRPipeline``'s
``line_reader_margin``), at no further cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from recognizer.interface import Reading

from .stages import Detection
from .word_splitting import LineFrame, line_frame

MODEL_FILE = "PP-OCRv6_rec_small.onnx"
STRIP_HEIGHT = 48  # the recognizer's input height
FRAME_WIDTH = 8  # strip pixels per CTC output


def find_line_reader_model() -> Path:
    from recognizer.rapidocr_models import find_rapidocr_model

    return find_rapidocr_model(MODEL_FILE, "Cutting lines into words (split_words='ctc')")


@dataclass(frozen=True)
class LineReading:
    """The characters a CTC line reader found: their text and strip columns (pixels)."""

    chars: list[str]
    starts: np.ndarray  # first column of each character's frames
    ends: np.ndarray  # last column (exclusive)
    width: int  # the strip's width
    confidence: float = 0.0  # the mean probability of the characters' frames
    # Each character's probability (its frames' highest); None: 1 for each.
    scores: np.ndarray | None = None
    # Read from the strip turned by 180 degrees: the characters, in the strip's columns, run
    # against the reading order.
    upside_down: bool = False

    def turned(self) -> LineReading:
        """The same reading in the columns of the strip turned by 180 degrees."""
        return LineReading(
            self.chars[::-1],
            (self.width - self.ends)[::-1],
            (self.width - self.starts)[::-1],
            self.width,
            self.confidence,
            None if self.scores is None else self.scores[::-1],
            not self.upside_down,
        )

    def char_scores(self) -> np.ndarray:
        return np.ones(len(self.chars)) if self.scores is None else np.asarray(self.scores)


def ctc_characters(
    probabilities: np.ndarray, alphabet: list[str], width: int, space_above: float = 1.0
) -> LineReading:
    """Greedy CTC decoding of ``(frames, classes)`` that keeps where each character lies:
    a run of frames with the same non-blank class is one character. A blank frame whose
    space probability (the alphabet's last class, ``" "``) is at least ``space_above`` is
    read as a space."""
    best = probabilities.argmax(axis=1)
    peak = probabilities.max(axis=1)
    # Over the frames that hold characters: blank frames are confident even on noise.
    solid = peak[best != 0]
    confidence = float(solid.mean()) if solid.size else 0.0
    if space_above < 1.0 and alphabet[-1] == " ":
        space = len(alphabet) - 1
        best = np.where((best == 0) & (probabilities[:, space] >= space_above), space, best)
    frames = len(best)
    per_frame = width / max(frames, 1)
    chars, starts, ends, scores = [], [], [], []
    previous = 0
    for index, cls in enumerate(best):
        if cls != 0 and cls == previous:
            ends[-1] = (index + 1) * per_frame
            scores[-1] = max(scores[-1], float(peak[index]))
        elif cls != 0:
            chars.append(alphabet[cls])
            starts.append(index * per_frame)
            ends.append((index + 1) * per_frame)
            scores.append(float(peak[index]))
        previous = cls
    return LineReading(
        chars, np.asarray(starts), np.asarray(ends), width, confidence, np.asarray(scores)
    )


def _word_groups(reading: LineReading) -> list[list[int]]:
    """The character indices of each word (runs of characters between spaces)."""
    groups: list[list[int]] = [[]]
    for i, char in enumerate(reading.chars):
        if char.isspace():
            groups.append([])
        else:
            groups[-1].append(i)
    return [g for g in groups if g]


def word_readings(reading: LineReading) -> list[Reading]:
    """The text of each word of a line reading, in the order of ``word_columns``, with its
    characters' probabilities and their product as its confidence. Each word's text is in
    reading order, also when the line was read upside down."""
    scores = reading.char_scores()
    words = []
    for group in _word_groups(reading):
        if reading.upside_down:
            group = group[::-1]  # back into reading order
        chars = [float(scores[i]) for i in group]
        text = "".join(reading.chars[i] for i in group)
        words.append(Reading(text, float(np.prod(chars)), chars))
    return words


def word_columns(reading: LineReading, trim: float = 0.6) -> list[tuple[float, float]]:
    """[start, end) strip columns of each word of a line reading.

    Cuts lie halfway between the characters on either side of a space; each word is then
    kept within ``trim`` character pitches of its outer characters (the pitch is the line's
    median distance between neighbouring characters)."""
    groups = _word_groups(reading)
    if not groups:
        return []
    centres = (reading.starts + reading.ends) / 2
    solid = [i for g in groups for i in g]
    steps = np.diff(centres[solid]) if len(solid) > 1 else np.array([])
    # Within words only: the steps across a space are wider.
    inner = [centres[b] - centres[a] for g in groups for a, b in zip(g, g[1:])]
    pitch = float(np.median(inner)) if inner else (float(np.median(steps)) if len(steps) else 0)
    if pitch <= 0:
        pitch = float(np.median(reading.ends - reading.starts)) * 2
    cuts = [0.0]
    for left, right in zip(groups, groups[1:]):
        cuts.append((reading.ends[left[-1]] + reading.starts[right[0]]) / 2)
    cuts.append(float(reading.width))
    words = []
    for (cut_start, cut_end), group in zip(zip(cuts, cuts[1:]), groups):
        start = max(cut_start, centres[group[0]] - (0.5 + trim) * pitch)
        end = min(cut_end, centres[group[-1]] + (0.5 + trim) * pitch)
        words.append((start, end))
    return words


@dataclass(frozen=True)
class CTCWordSplitter:
    """Splits line polygons into word polygons where PP-OCRv6 small's line reading puts
    spaces (see the module's description).

    Args:
        trim: how far (in character pitches, beyond half a pitch) a word may reach past its
            outer characters towards the line's ends or a wide space.
        turn_below: lines read with a lower confidence are read upside down too.
        space_above: a frame the reader finds blank but gives a space at least this
            probability is taken as a space (1: only spaces it reads outright; 0.15 was
            chosen on the ICDAR 2015 dev photos).
        max_width: the longest strip read at once (pixels); longer lines are read in a strip
            of this width.
        model_file: the ONNX file; None finds the one in the installed ``rapidocr``.
        num_threads: onnxruntime intra-op threads; 0 lets onnxruntime choose.

    A line the reader finds no characters in is kept whole. A line read with a confidence
    under ``turn_below``, and every line that stands upright in the photo, is read upside
    down as well, and the more confident reading cuts it:
    the detector's lines come before the page is turned upright (a photo taken upside down
    or sideways), and their strips then stand on their heads.
    """

    # The detector's stage hands this splitter the colour image (the ink one: gray).
    needs_color: ClassVar[bool] = True

    trim: float = 0.6
    turn_below: float = 0.95
    space_above: float = 0.15
    max_width: int = 3200
    model_file: str | None = None
    num_threads: int = 0
    _runtime: dict = field(default_factory=dict, repr=False, compare=False)

    def _session(self):
        if "session" not in self._runtime:
            import onnx
            import onnxruntime

            path = Path(self.model_file) if self.model_file else find_line_reader_model()
            model = onnx.load(str(path))
            keys = {p.key: p.value for p in model.metadata_props}
            if "character" not in keys:
                raise ValueError(
                    f"{path} has no 'character' list in its metadata: not a PP-OCR text-line "
                    "recognizer exported by PaddleOCR"
                )
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.num_threads
            options.log_severity_level = 3
            self._runtime["session"] = onnxruntime.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
            self._runtime["alphabet"] = ["", *keys["character"].splitlines(), " "]
        return self._runtime["session"], self._runtime["alphabet"]

    def read_line(self, strip_bgr: np.ndarray, both_ways: bool = False) -> LineReading:
        """The line reader's characters in a BGR strip of any size, in its columns: read as
        it is and, when that reading is unsure (or ``both_ways``), upside down as well (the
        surer one kept)."""
        reading = self._read(strip_bgr)
        if both_ways or reading.confidence < self.turn_below:
            turned = self._read(np.ascontiguousarray(strip_bgr[::-1, ::-1]))
            if turned.confidence > reading.confidence:
                return turned.turned()
        return reading

    def _read(self, strip_bgr: np.ndarray) -> LineReading:
        session, alphabet = self._session()
        h, w = strip_bgr.shape[:2]
        width = int(min(self.max_width, max(FRAME_WIDTH, round(w * STRIP_HEIGHT / h))))
        resized = cv2.resize(strip_bgr, (width, STRIP_HEIGHT), interpolation=cv2.INTER_LINEAR)
        pixels = resized.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0
        (probabilities,) = session.run(None, {session.get_inputs()[0].name: pixels})
        reading = ctc_characters(probabilities[0], alphabet, width, self.space_above)
        factor = w / width  # back to the strip's own columns
        return LineReading(
            reading.chars,
            reading.starts * factor,
            reading.ends * factor,
            w,
            reading.confidence,
            reading.scores,
            reading.upside_down,
        )

    def split(
        self, line: np.ndarray, image_bgr: np.ndarray, prob_map: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """Word polygons for one line polygon (pixels of the BGR ``image_bgr``):
        quadrilaterals from a straight line, polygons that follow the curve from a curved
        one."""
        return [polygon for polygon, _ in self.read_words(line, image_bgr)]

    def read_words(
        self, line: np.ndarray, image_bgr: np.ndarray
    ) -> list[tuple[np.ndarray, Reading | None]]:
        """Like ``split``, with the line reader's reading of each word (None for a line
        kept whole because nothing was read in it)."""
        frame = line_frame(line)
        if frame.length < 1 or frame.height < 1:
            return [(np.asarray(line, np.float64).reshape(-1, 2), None)]
        scale = STRIP_HEIGHT / frame.height
        strip = frame.sample(_three_channels(image_bgr), scale)
        # A line standing upright in the photo reads upwards or downwards: try both.
        standing = isinstance(frame, LineFrame) and abs(frame.along[1]) > abs(frame.along[0])
        reading = self.read_line(strip, both_ways=standing)
        words = [
            (frame.region(start / scale, end / scale), text)
            for (start, end), text in zip(
                word_columns(reading, self.trim), word_readings(reading), strict=True
            )
            if end > start
        ]
        return words or [(frame.region(0, frame.length), None)]

    def split_detections(self, image: np.ndarray, lines: list[Detection]) -> list[Detection]:
        """The pipeline stage: any detector's line detections on an RGB image -> words, each
        with the score of its line and the line reader's reading of it."""
        bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
        return [
            Detection(word.astype(np.float32), line.score, reading)
            for line in lines
            for word, reading in self.read_words(line.polygon, bgr)
        ]


def _three_channels(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
