"""Where weights placed by hand, downloaded or exported are kept on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def models_dir() -> Path:
    """Where weights placed by hand are looked up first (``$OCR_PIPELINE_HOME/models``)."""
    home = os.environ.get("OCR_PIPELINE_HOME") or Path.home() / ".cache" / "ocr-pipeline"
    return Path(home) / "models"


def weights_fingerprint(path: Path) -> str:
    """A short hash of a checkpoint file or folder (the key of what is derived from it)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
