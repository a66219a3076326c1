"""CLIP4STR scene text recognition in plain PyTorch.

>>> import recognizer
>>> model = recognizer.load("default")          # or "clip4str-base", or a checkpoint path
>>> model.read(["word.png"])[0].text
"""

from .checkpoint import CheckpointError
from .config import CLIP4STRConfig
from .hub import KNOWN_NAMES, WeightsUnavailableError, load
from .images import ImageError
from .model import CLIP4STR
from .onnx_backend import OnnxExportError, OnnxRecognizer
from .reading import Reading, WordReader

__all__ = [
    "CLIP4STR",
    "CLIP4STRConfig",
    "CheckpointError",
    "ImageError",
    "KNOWN_NAMES",
    "OnnxExportError",
    "OnnxRecognizer",
    "Reading",
    "WeightsUnavailableError",
    "WordReader",
    "load",
]
