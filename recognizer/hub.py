"""Named recognizers: the released CLIP4STR weights and the embedded default model."""

from __future__ import annotations

from pathlib import Path

import torch

from .cache import models_dir
from .checkpoint import SHIPPED_MODELS
from .interface import (
    BACKENDS,
    KNOWN_NAMES,
    PRECISIONS,
    RELEASED,
    ReleasedWeights,
    WeightsUnavailableError,
)
from .model import CLIP4STR
from .onnx_backend import OnnxRecognizer, is_onnx_export, load_onnx

__all__ = ["BACKENDS", "KNOWN_NAMES", "RELEASED", "WeightsUnavailableError", "load"]

DEFAULT_WEIGHTS = SHIPPED_MODELS["default"]


def locate_weights(
    name_or_path: str | Path, cache_dir: str | Path | None = None, endpoint: str | None = None
) -> Path:
    """The local file or folder for a known name or a path, downloading released weights."""
    key = str(name_or_path)
    if key in SHIPPED_MODELS:
        # DEFAULT_WEIGHTS, not SHIPPED_MODELS["default"]: it may be pointed elsewhere.
        folder = DEFAULT_WEIGHTS if key == "default" else SHIPPED_MODELS[key]
        if not (folder / "model.safetensors").is_file():
            raise WeightsUnavailableError(
                f"the {key} recognizer weights are not installed ({folder}); "
                "reinstall the package or pass a checkpoint path"
            )
        return folder
    if key in RELEASED:
        return download_released(RELEASED[key], cache_dir=cache_dir, endpoint=endpoint)
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    raise WeightsUnavailableError(
        f"{key!r} is neither a checkpoint path nor a known recognizer name "
        f"({', '.join(KNOWN_NAMES)})"
    )


def download_released(
    weights: ReleasedWeights, cache_dir: str | Path | None = None, endpoint: str | None = None
) -> Path:
    """The released file, from the models folder, the Hugging Face cache or the network."""
    placed = models_dir() / weights.filename
    if placed.is_file():
        return placed
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(
            hf_hub_download(
                weights.repo_id, weights.filename, cache_dir=cache_dir, endpoint=endpoint
            )
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise WeightsUnavailableError(
            f"could not download {weights.filename} ({weights.description}) from the Hugging "
            f"Face Hub repository {weights.repo_id}: {type(error).__name__}. Without network, "
            f"download https://huggingface.co/{weights.repo_id}/resolve/main/{weights.filename} "
            f"on another machine and place it at {placed} (or set OCR_PIPELINE_HOME, or pass "
            "the file's path instead of the name)"
        ) from None


def load(
    name_or_path: str | Path = "default",
    device: str | torch.device = "cpu",
    trust_checkpoint: bool = False,
    backend: str = "torch",
    precision: str = "fp32",
) -> CLIP4STR | OnnxRecognizer:
    """A ready-to-use recognizer from a known name (see ``KNOWN_NAMES``) or a checkpoint path.

    ``backend="torch"`` returns a ``CLIP4STR`` module; ``backend="onnx"`` an ``OnnxRecognizer``
    running the model with ONNX Runtime (exported once into the models folder, or a folder
    written by ``python -m recognizer export-onnx``); ``backend="onnx-int8"`` the same with
    the image encoder quantized to int8 (faster, see the README's performance section for
    the accuracy change). All have ``read(crops)``.
    ``precision="bf16"`` makes the torch module read under bfloat16 autocast.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if backend.startswith("onnx"):
        if str(device) != "cpu" or precision != "fp32":
            raise ValueError(
                "the onnx backend runs in fp32 on the CPU; use backend='torch' for GPUs and bf16"
            )
        path = Path(name_or_path)
        if not is_onnx_export(path):
            path = locate_weights(name_or_path)
        return load_onnx(path, trust_checkpoint=trust_checkpoint, int8=backend == "onnx-int8")
    path = locate_weights(name_or_path)
    model = CLIP4STR.from_checkpoint(path, trust_checkpoint=trust_checkpoint, device=device)
    model.precision = precision
    return model
