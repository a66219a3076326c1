"""What the pipeline returns for one image, and its JSON form.

A result is a page of blocks, a block a run of lines (a paragraph, a heading, a sign), a
line a run of words. Blocks, lines in a block and words in a line are in reading order.

JSON schema (``schema_version`` 2)::

    {
      "schema": "ocr-pipeline/result",
      "schema_version": 2,
      "image": {"path": "photo.jpg" | null, "width": 1280, "height": 720,
                "orientation": 0},
      "models": {"detector": "...", "recognizer": "..."},
      "text": "first line\\nsecond line",
      "blocks": [{"polygon": [[x, y], ...], "text": "first line\\nsecond line",
                  "confidence": 0.93, "lines": [0, 1]}],
      "lines": [{"polygon": [[x, y], ...], "text": "first line", "words": [0, 1],
                 "confidence": 0.95, "block": 0}],
      "words": [{"polygon": [[x, y], ...], "text": "first", "confidence": 0.98,
                 "detection_score": 0.91}]
    }

Polygons are lists of ``[x, y]`` points in pixels of the original image (after its EXIF
rotation), clockwise from the top-left corner of the text (of the text as read: on a photo
taken sideways or upside down, ``image.orientation`` is the clockwise turn, 0, 90, 180 or
270 degrees, that made it upright for reading, and the first point is the upright text's
top-left corner wherever it lies in the photo); line and block polygons are the
smallest rotated rectangles around their words and lines. ``blocks[i].lines`` indexes
``lines``, ``lines[i].block`` indexes ``blocks`` and ``lines[i].words`` indexes ``words``;
reading ``lines`` and ``words`` from start to end follows the reading order. Points are
rounded to 0.1 px, confidences and scores to 4 decimals.

``words[i].confidence`` is the confidence (0 to 1) of the reading the word's text comes
from: the recognizer's, or the line reader's where that is surer (``OCRPipeline``'s
``line_reader_margin`` and ``line_reader_trust``); ``detection_score`` is the detector's
score for its region. The ``confidence`` of a line or a block is the mean confidence of its
words, as written in ``words`` (so a reader can recompute it exactly); 0 when it has no
words.

Version 2 adds ``blocks``, ``lines[i].confidence`` and ``lines[i].block`` to version 1 and
keeps every version-1 key with its meaning, so version-1 readers read version 2.
``OCRResult.from_dict`` reads both; a version-1 file becomes one block holding all lines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .formats import Photo, format_for_path, render
from .layout import clamp_to_image, enclosing_rectangle, group_into_blocks

SCHEMA = "ocr-pipeline/result"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

Polygon = list[list[float]]


def _points(polygon) -> Polygon:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in polygon]


def _confidence(value: float) -> float:
    return round(float(value), 4)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _enclosing_polygon(polygons: Sequence, width: int, height: int) -> Polygon:
    """The smallest rotated rectangle around ``polygons``, clamped to the image; no points
    when there are none."""
    polygons = [np.asarray(p, dtype=np.float32) for p in polygons if len(p)]
    if not polygons:
        return []
    return clamp_to_image(enclosing_rectangle(polygons), width, height)


def _written_confidence(words: Sequence[Word]) -> float:
    # From the rounded word confidences, so that the value read back from a file and
    # written again is the same (a mean of unrounded values could round differently).
    return _confidence(_mean([_confidence(w.confidence) for w in words]))


@dataclass
class Word:
    polygon: Polygon
    text: str
    confidence: float
    detection_score: float = 1.0

    def to_dict(self) -> dict:
        return {
            "polygon": _points(self.polygon),
            "text": self.text,
            "confidence": _confidence(self.confidence),
            "detection_score": _confidence(self.detection_score),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Word:
        return cls(
            _points(data["polygon"]),
            data["text"],
            float(data["confidence"]),
            float(data.get("detection_score", 1.0)),
        )


class _WordGroup:
    """A line or a block: its confidence is the mean of its words' (0.0 without words)."""

    words: list[Word]

    @property
    def confidence(self) -> float:
        return _mean([w.confidence for w in self.words])


@dataclass
class Line(_WordGroup):
    polygon: Polygon
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words if w.text)


class _LineGroup(_WordGroup):
    """A block or a page: its words and text are those of its lines, in reading order."""

    lines: list[Line]

    @property
    def words(self) -> list[Word]:
        return [word for line in self.lines for word in line.words]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines if line.text)


@dataclass
class Block(_LineGroup):
    polygon: Polygon
    lines: list[Line] = field(default_factory=list)


@dataclass
class OCRResult(_LineGroup):
    """One photo's result: blocks of lines of words, in reading order (see the module doc)."""

    blocks: list[Block]
    width: int
    height: int
    path: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    # Degrees the photo was turned clockwise to read it (0, 90, 180 or 270); polygons are
    # in the photo's own pixels all the same.
    orientation: int = 0

    @property
    def lines(self) -> list[Line]:
        """All lines in reading order."""
        return [line for block in self.blocks for line in block.lines]

    def to_dict(self) -> dict:
        """The JSON form, schema version 2 (see the module docstring)."""
        blocks, lines, words = [], [], []
        for b, block in enumerate(self.blocks):
            blocks.append(_block_dict(block, range(len(lines), len(lines) + len(block.lines))))
            for line in block.lines:
                lines.append(_line_dict(line, range(len(words), len(words) + len(line.words)), b))
                words.extend(word.to_dict() for word in line.words)
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "image": {
                "path": self.path,
                "width": self.width,
                "height": self.height,
                "orientation": self.orientation,
            },
            "models": dict(self.models),
            "text": self.text,
            "blocks": blocks,
            "lines": lines,
            "words": words,
        }

    def turned_back(self, degrees: int) -> OCRResult:
        """This result of the photo turned clockwise by ``degrees``, in the pixels of the
        photo as it was (text, order and confidences unchanged)."""
        from .orientation import turn_back

        width, height = (self.height, self.width) if degrees % 180 else (self.width, self.height)

        def back(polygon: Polygon) -> Polygon:
            if not polygon:
                return polygon
            return turn_back(polygon, degrees, width, height).tolist()

        blocks = []
        for block in self.blocks:
            lines = [
                Line(
                    back(line.polygon),
                    [
                        Word(back(w.polygon), w.text, w.confidence, w.detection_score)
                        for w in line.words
                    ],
                )
                for line in block.lines
            ]
            blocks.append(Block(back(block.polygon), lines))
        return OCRResult(blocks, width, height, self.path, dict(self.models), degrees)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> OCRResult:
        """A result from its JSON form, schema version 2 or 1.

        Raises ``ValueError`` for anything else (a key missing, a value of another type),
        or when the indices do not describe blocks, lines and words each following on from
        the last.
        """
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, IndexError, AttributeError, OverflowError) as error:
            detail = f"missing key {error}" if isinstance(error, KeyError) else str(error)
            raise ValueError(f"not a valid OCR result: {detail}") from None

    @classmethod
    def _from_dict(cls, data: dict) -> OCRResult:
        version = _check_schema(data)
        _check_consecutive([line["words"] for line in data["lines"]], len(data["words"]), "words")
        words = [Word.from_dict(w) for w in data["words"]]
        lines = [_read_line(line, words) for line in data["lines"]]
        image = data["image"]
        if version == 1:  # no blocks yet: the whole page is one
            polygon = _enclosing_polygon(
                [line.polygon for line in lines], image["width"], image["height"]
            )
            blocks = [Block(polygon, lines)]
        else:
            _check_consecutive([block["lines"] for block in data["blocks"]], len(lines), "lines")
            blocks = [_read_block(block, lines) for block in data["blocks"]]
        models = dict(data.get("models", {}))
        orientation = int(image.get("orientation", 0))
        return cls(blocks, image["width"], image["height"], image.get("path"), models, orientation)

    @classmethod
    def from_json(cls, text: str) -> OCRResult:
        return cls.from_dict(json.loads(text))

    def to(self, format: str, image: np.ndarray | None = None) -> bytes:
        """The result in another format (``pipeline.formats.FORMATS``: json, text, tsv, hocr,
        alto, page, pdf), as the bytes of a file. ``image``: the photo's RGB pixels, which
        the searchable PDF embeds."""
        return render(self, format, Photo(self.path, image))

    def save(
        self, path: str | Path, format: str | None = None, image: np.ndarray | None = None
    ) -> Path:
        """Write the result to ``path``, in ``format`` or the one its name asks for
        (``photo.alto.xml``, ``photo.pdf`` ...)."""
        path = Path(path)
        path.write_bytes(self.to(format or format_for_path(path).name, image))
        return path


def _line_dict(line: Line, word_indices: range, block_index: int) -> dict:
    # The version-1 keys first, in their version-1 order.
    return {
        "polygon": _points(line.polygon),
        "text": line.text,
        "words": list(word_indices),
        "confidence": _written_confidence(line.words),
        "block": block_index,
    }


def _block_dict(block: Block, line_indices: range) -> dict:
    return {
        "polygon": _points(block.polygon),
        "text": block.text,
        "confidence": _written_confidence(block.words),
        "lines": list(line_indices),
    }


def _check_schema(data: dict) -> int:
    if not isinstance(data, dict):
        raise ValueError(f"not an OCR result: a {type(data).__name__}, not a JSON object")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"not an OCR result: schema is {data.get('schema')!r}, not {SCHEMA!r}")
    version = data.get("schema_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise ValueError(
            f"OCR result schema_version {version!r} is not supported: this version of "
            f"ocr-pipeline reads schema versions {READABLE_VERSIONS[0]} to {SCHEMA_VERSION}"
            + (" (the file is newer; upgrade ocr-pipeline)" if _is_newer(version) else "")
        )
    return version


def _is_newer(version) -> bool:
    return isinstance(version, int) and version > SCHEMA_VERSION


def _check_consecutive(groups: list[list[int]], count: int, what: str) -> None:
    """Reading order is the order of the lists: the groups must take them in turn, once."""
    if [i for group in groups for i in group] != list(range(count)):
        raise ValueError(f"the {what} indices of an OCR result must cover all {what} in order")


def _read_line(data: dict, words: list[Word]) -> Line:
    # The same Word objects as in the result's word list, not copies.
    return Line(_points(data["polygon"]), [words[i] for i in data["words"]])


def _read_block(data: dict, lines: list[Line]) -> Block:
    return Block(_points(data["polygon"]), [lines[i] for i in data["lines"]])


def assemble_page(
    words: list[Word],
    line_groups: list[list[int]],
    width: int,
    height: int,
    path: str | None = None,
    models: dict[str, str] | None = None,
) -> OCRResult:
    """A page from its read words and their lines (``layout.group_into_lines``).

    Words and lines take the order of ``line_groups``; words in no group are left out.
    Each line's polygon is the smallest rotated rectangle around its words; consecutive
    lines are grouped into blocks by ``layout.group_into_blocks``, each block's polygon the
    smallest rotated rectangle around its lines. Every polygon is clamped to the image
    (detectors grow regions past its edges, and a rotated rectangle around words near an
    edge can stick out of it).
    """
    words = [
        Word(clamp_to_image(w.polygon, width, height), w.text, w.confidence, w.detection_score)
        for w in words
    ]
    lines = [
        Line(
            _enclosing_polygon([words[i].polygon for i in group], width, height),
            [words[i] for i in group],
        )
        for group in line_groups
    ]
    block_groups = group_into_blocks([np.asarray(line.polygon) for line in lines])
    blocks = [
        Block(
            _enclosing_polygon([lines[i].polygon for i in group], width, height),
            [lines[i] for i in group],
        )
        for group in block_groups
    ]
    return OCRResult(blocks, width, height, path, dict(models or {}))
