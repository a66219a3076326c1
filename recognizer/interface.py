"""What callers of the recognizer see, without loading PyTorch: readings, errors, and the
names of the models, backends and precisions.

Light on purpose: the command lines and the pipeline's stage interfaces import these, and
``ocr-pipeline --help`` must not wait for PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

HF_REPO = "mzhaoshuai/CLIP4STR"
BACKENDS = ("torch", "onnx", "onnx-int8")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class ReleasedWeights:
    repo_id: str
    filename: str
    description: str


RELEASED = {
    "clip4str-base": ReleasedWeights(
        HF_REPO, "clip4str_base_6e9fe947ac.pt", "CLIP4STR-B (ViT-B/16), trained on RBU"
    ),
    "clip4str-large": ReleasedWeights(
        HF_REPO, "clip4str_large_3c9d881b88.pt", "CLIP4STR-L (ViT-L/14), trained on RBU"
    ),
    "clip4str-huge": ReleasedWeights(
        HF_REPO, "clip4str_huge_5eef9f86e2.pt", "CLIP4STR-H (ViT-H/14), trained on RBU"
    ),
}
# Shipped inside the package (recognizer/weights/): the default (CLIP4STR on PP-OCRv6 small's
# pre-trained text-line encoder), and the earlier default whose image tower was trained from
# scratch (kept for comparison).
SHIPPED_NAMES = ("default", "small-scratch")
KNOWN_NAMES = (*SHIPPED_NAMES, *RELEASED)


@dataclass(frozen=True)
class Reading:
    """The text read from one crop."""

    text: str
    # Product of the character confidences (and of the end token's, when predicted).
    confidence: float
    char_confidences: list[float]


class ImageError(ValueError):
    """An input that cannot be used as an image; the message names it and says why."""


# The kinds of ImageError a caller may answer differently (the service: 415, 422, 413).
class NotAnImageError(ImageError):
    """Data that no image decoder recognises."""


class CorruptImageError(ImageError):
    """An image whose data is damaged or cut short."""


class ImageTooLargeError(ImageError):
    """An image with more pixels than the limit allows."""


class MultiFrameWarning(UserWarning):
    """An animated or multi-page image file of which only the first frame is read."""


class CheckpointError(ValueError):
    """A file that cannot be loaded as a CLIP4STR checkpoint; the message says what to do."""


class WeightsUnavailableError(RuntimeError):
    """Named weights that are neither on disk nor downloadable; the message says what to do."""


class OnnxExportError(RuntimeError):
    """The model could not be exported, or an export folder is incomplete."""
