"""Model files that ship inside the ``rapidocr`` wheel (PP-OCR's detector, text-line
orientation classifier and recognizer), found where the installed package keeps them."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def rapidocr_models_dir(purpose: str) -> Path:
    """The ``models`` folder of the installed ``rapidocr`` package (``purpose`` names what
    needs it, for the error)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"{purpose} uses a PP-OCR model that ships inside the 'rapidocr' package, which "
            "is not installed: pip install 'rapidocr>=3.10,<4' onnxruntime"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def find_rapidocr_model(filename: str, purpose: str, remedy: str = "") -> Path:
    """A model file shipped inside the installed ``rapidocr`` package; ``remedy`` is added to
    the reinstall hint of the error when it is missing."""
    path = rapidocr_models_dir(purpose) / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing ({purpose} needs it): reinstall rapidocr with "
            f"pip install --force-reinstall 'rapidocr>=3.10,<4'{remedy}"
        )
    return path
