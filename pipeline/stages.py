"""The stages ``OCRPipeline`` composes, as interfaces.

A ``Detector`` finds text in photos; a ``Recognizer`` reads word crops. Anything with these
methods can be given to ``OCRPipeline``: MMOCR's detectors (``pipeline.openmmlab.detector``),
CLIP4STR in PyTorch or ONNX Runtime (``recognizer.load``), or a user's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from recognizer.interface import Reading


@dataclass(frozen=True)
class Detection:
    """A text region: its polygon, (N, 2) float32 points in image pixels, and a score.

    ``reading``: the region's text as the detection stage read it, when it read it (a line
    reader that cut lines into words: ``pipeline.ctc_splitting``); None otherwise."""

    polygon: np.ndarray
    score: float
    reading: Reading | None = None


@runtime_checkable
class Detector(Protocol):
    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """The text regions of each HxWx3 RGB uint8 image, in no particular order."""
        ...


@runtime_checkable
class Recognizer(Protocol):
    def read(self, images: Sequence[np.ndarray], batch_size: int = 64) -> list[Reading]:
        """The text of each upright word crop (HxWx3 RGB uint8), in input order."""
        ...
