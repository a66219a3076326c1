"""What the pipeline returns for one image, and its JSON form.

JSON schema (``schema_version`` 1)::

    {
      "schema": "ocr-pipeline/result",
      "schema_version": 1,
      "image": {"path": "photo.jpg" | null, "width": 1280, "height": 720},
      "models": {"detector": "...", "recognizer": "..."},
      "text": "first line\\nsecond line",
      "lines": [{"polygon": [[x, y], ...], "text": "first line", "words": [0, 1]}],
      "words": [{"polygon": [[x, y], ...], "text": "first", "confidence": 0.98,
                 "detection_score": 0.91}]
    }

Polygons are lists of ``[x, y]`` points in pixels of the original image (after its EXIF
rotation), clockwise from the top-left corner of the text. ``lines[i].words`` indexes
``words``; lines and the words inside them are in reading order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

SCHEMA = "ocr-pipeline/result"
SCHEMA_VERSION = 1


def _points(polygon) -> list[list[float]]:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in polygon]


@dataclass
class Word:
    polygon: list[list[float]]
    text: str
    confidence: float
    detection_score: float = 1.0

    def to_dict(self) -> dict:
        return {
            "polygon": _points(self.polygon),
            "text": self.text,
            "confidence": round(float(self.confidence), 4),
            "detection_score": round(float(self.detection_score), 4),
        }


@dataclass
class Line:
    polygon: list[list[float]]
    words: list[Word]
    word_indices: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words if w.text)


@dataclass
class OCRResult:
    words: list[Word]
    lines: list[Line]
    width: int
    height: int
    path: str | None = None
    models: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines if line.text)

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "image": {"path": self.path, "width": self.width, "height": self.height},
            "models": dict(self.models),
            "text": self.text,
            "lines": [
                {
                    "polygon": _points(line.polygon),
                    "text": line.text,
                    "words": list(line.word_indices),
                }
                for line in self.lines
            ],
            "words": [word.to_dict() for word in self.words],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
