"""CLIP4STR scene text recognition in plain PyTorch.

>>> import recognizer
>>> model = recognizer.load("default")          # or "clip4str-base", or a checkpoint path
>>> model.read(["word.png"])[0].text

The errors, ``Reading`` and ``KNOWN_NAMES`` import without PyTorch; the model classes and
``load`` are imported on first use.
"""

from .interface import (
    KNOWN_NAMES,
    CheckpointError,
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    MultiFrameWarning,
    NotAnImageError,
    OnnxExportError,
    Reading,
    WeightsUnavailableError,
)

__all__ = [
    "CLIP4STR",
    "CLIP4STRConfig",
    "CheckpointError",
    "CorruptImageError",
    "ImageError",
    "ImageTooLargeError",
    "KNOWN_NAMES",
    "MultiFrameWarning",
    "NotAnImageError",
    "OnnxExportError",
    "OnnxRecognizer",
    "Reading",
    "WeightsUnavailableError",
    "WordReader",
    "load",
]

# Where each lazily imported name lives.
_LAZY = {
    "CLIP4STR": "model",
    "CLIP4STRConfig": "config",
    "OnnxRecognizer": "onnx_backend",
    "WordReader": "reading",
    "load": "hub",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'recognizer' has no attribute {name!r}")
