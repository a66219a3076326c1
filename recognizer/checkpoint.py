"""Reading CLIP4STR weights: released checkpoints, bare state dicts and our safetensors format.

Formats understood:

* PyTorch Lightning-style ``{"state_dict": ..., "hyper_parameters": ...}`` files as released
  with the paper (``.ckpt``, ``.pt``, ``.bin``), or a bare state dict;
* a folder (or its ``model.safetensors``) written by ``CLIP4STR.save_pretrained``.

The model's shape comes from ``config.json`` when there is one. A bare state dict of a model
shipped with the package (the default recognizer) takes that model's configuration when its
tensors have exactly that model's names and shapes (its attention heads cannot be read off
the tensors). Otherwise the shape is read off the tensors (the released ViT layouts), and the
charset and decoder settings off the hyper-parameters when present.
"""

from __future__ import annotations

import json
import pickle
import struct
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .clip_backbone import ClipArchitecture, count_blocks, infer_architecture
from .config import CLIP4STRConfig
from .interface import SHIPPED_NAMES, CheckpointError
from .tokenizer import PRINTABLE_ASCII_94

SAFETENSORS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
# Prefixes that wrappers put in front of the model's own keys (DDP, MMOCR, Lightning).
_WRAPPER_PREFIXES = ("module.", "model.", "recognizer.")
MODEL_PARTS = ("clip_model.", "visual_decoder.", "cross_decoder.")
# Where a wrapper (pipeline.openmmlab.recognizer) stores the model's config beside its
# weights, as the value of a ``<prefix>_extra_state`` entry of the state dict.
EMBEDDED_CONFIG_KEY = "clip4str_config"
# Models shipped with the package (``save_pretrained`` folders under weights/, named with "_"
# for "-"): a bare state dict with exactly one's tensor names and shapes is that model.
SHIPPED_MODELS = {
    name: Path(__file__).parent / "weights" / name.replace("-", "_") for name in SHIPPED_NAMES
}


# --------------------------------------------------------------------- reading files


def read_weights(path: Path, trust_checkpoint: bool) -> tuple[dict, dict, dict | None]:
    """``(state_dict, hyper_parameters, saved_config)`` of a checkpoint file or folder."""
    if path.is_dir():
        path = path / SAFETENSORS_NAME
        if not path.is_file():
            raise CheckpointError(
                f"{path.parent}: folder has no {SAFETENSORS_NAME}; give a checkpoint file or a "
                "folder written by CLIP4STR.save_pretrained"
            )
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the checkpoint file is empty; download it again")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    loaded = _torch_load(path, trust_checkpoint)
    if not isinstance(loaded, Mapping):
        raise CheckpointError(
            f"{path}: holds a {type(loaded).__name__}, not a state dict; is this a CLIP4STR "
            "checkpoint?"
        )
    if "state_dict" in loaded and isinstance(loaded["state_dict"], Mapping):
        hparams = loaded.get("hyper_parameters") or {}
        if not isinstance(hparams, Mapping):
            raise CheckpointError(
                f"{path}: its hyper_parameters are a {type(hparams).__name__}, not a dict; "
                "the file is not a CLIP4STR checkpoint"
            )
        return dict(loaded["state_dict"]), dict(hparams), None
    return dict(loaded), {}, None


def _read_safetensors(path: Path) -> tuple[dict, dict, dict | None]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({error}); it may be truncated, "
            "download or save it again"
        ) from None
    config_path = path.with_name(CONFIG_NAME)
    if not config_path.is_file():
        return state, {}, None
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"{config_path}: not valid JSON ({error}); restore the file written by "
            "save_pretrained, or remove it to infer the model from the weights"
        ) from None
    return state, {}, config


def _torch_load(path: Path, trust_checkpoint: bool) -> Any:
    if not _looks_like_torch_file(path):
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle): the file "
            "is truncated or corrupt, or not a checkpoint at all; download it again"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_checkpoint)
    except pickle.UnpicklingError as error:
        if trust_checkpoint or not _refused_python_objects(error):
            raise CheckpointError(
                f"{path}: corrupt checkpoint ({_unpickler_detail(error)}); the file is "
                "probably truncated or damaged: download it again"
            ) from None
        raise CheckpointError(
            f"{path}: this checkpoint holds Python objects besides tensors, and unpickling "
            "them can run arbitrary code. It was refused. If you trust where the file comes "
            "from, load it with trust_checkpoint=True (command line: --trust-checkpoint). "
            "Training checkpoints of MMOCR/mmengine are such files (they keep the training "
            "state); once trusted, CLIP4STR.from_checkpoint(path, trust_checkpoint=True)"
            ".save_pretrained(folder) writes a copy that loads without trust. "
            f"Details: {_first_line(error)}"
        ) from None
    # What torch.load raises on damaged bytes besides those: a bad string (ValueError,
    # UnicodeDecodeError), a short record (struct.error), a bad memo or storage index
    # (IndexError, KeyError), a failed check of the legacy format (AssertionError) ...
    # as found by benchmarks/fuzz_loaders.py.
    except (
        AssertionError,
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        OSError,
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        AttributeError,
        OverflowError,
        struct.error,
    ) as error:
        raise CheckpointError(
            f"{path}: not a complete PyTorch checkpoint ({_first_line(error)}); the file is "
            "probably truncated or corrupt: download it again"
        ) from None


def _refused_python_objects(error: pickle.UnpicklingError) -> bool:
    """Whether a weights-only load stopped at a reference to a Python class or function (the
    file holds objects besides tensors) rather than at damaged bytes (an unknown opcode, a
    bad string ...), where trusting the file would not help."""
    text = str(error)
    return "weights_only" in text and ("GLOBAL" in text or "Unsupported class" in text)


def _unpickler_detail(error: pickle.UnpicklingError) -> str:
    """The weights-only unpickler's own reason, without torch's advice around it."""
    text = str(error)
    _, marker, detail = text.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in detail.splitlines() if line.strip()] if marker else []
    return lines[0] if lines else _first_line(error)


def _looks_like_torch_file(path: Path) -> bool:
    """torch.save writes a zip archive (or, before torch 1.6, a pickle: protocol opcode)."""
    with path.open("rb") as handle:
        start = handle.read(2)
    try:
        is_zip = zipfile.is_zipfile(path)
    except zipfile.BadZipFile:  # a damaged zip archive: torch.load says what is wrong
        is_zip = True
    return is_zip or (len(start) == 2 and start[0] == 0x80 and start[1] <= 5)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --------------------------------------------------------------------- interpreting


def strip_wrapper_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys as the model names them, without ``module.``/``model.``-style wrappers."""
    state = dict(state)
    for _ in range(3):
        if any(k.startswith(MODEL_PARTS) for k in state):
            break
        for prefix in _WRAPPER_PREFIXES:
            if any(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                break
    return state


def config_from_released(
    state: Mapping[str, torch.Tensor], hparams: Mapping[str, Any], source: Path
) -> CLIP4STRConfig:
    """The configuration of a released checkpoint, from its tensors and hyper-parameters."""
    try:
        return _released_config(state, hparams, source)
    except CheckpointError:
        raise
    # Tensors of other ranks or of size 0, hyper-parameters of other types.
    except (IndexError, TypeError, ValueError, ZeroDivisionError) as error:
        raise CheckpointError(
            f"{source}: its tensors or hyper-parameters do not fit the released CLIP4STR "
            f"layout ({type(error).__name__}: {_first_line(error)}); is it a complete CLIP4STR "
            "checkpoint?"
        ) from None


def _released_config(
    state: Mapping[str, torch.Tensor], hparams: Mapping[str, Any], source: Path
) -> CLIP4STRConfig:
    clip_state = {
        k[len("clip_model.") :]: v for k, v in state.items() if k.startswith("clip_model.")
    }
    try:
        arch = infer_architecture(clip_state)
        decoder_queries = state["visual_decoder.pos_queries"]
        head = state["visual_decoder.head.weight"]
        linear1 = state["visual_decoder.layers.0.linear1.weight"]
    except KeyError as missing:
        raise CheckpointError(
            f"{source}: missing tensor clip_model.{missing.args[0]} / decoder tensors; the file "
            "is not a complete CLIP4STR checkpoint"
        ) from None
    if "img_size" in hparams:
        arch = _with_image_size(arch, tuple(hparams["img_size"]), source)
    charset = hparams.get("charset_train", PRINTABLE_ASCII_94)
    if not isinstance(charset, str):
        raise CheckpointError(
            f"{source}: its charset_train is a {type(charset).__name__}, not a string"
        )
    if head.shape[0] != len(charset) + 1:
        raise CheckpointError(
            f"{source}: the heads predict {head.shape[0]} classes but the charset has "
            f"{len(charset)} characters (+1 end token); the hyper-parameters do not match "
            "the weights"
        )
    width = decoder_queries.shape[2]
    return CLIP4STRConfig(
        clip=arch,
        charset=charset,
        max_label_length=decoder_queries.shape[1] - 1,
        decoder_depth=count_blocks(state, "visual_decoder.layers."),
        decoder_heads=int(hparams.get("dec_num_heads", 8)),
        decoder_mlp_ratio=linear1.shape[0] / width,
        dropout=float(hparams.get("dropout", 0.1)),
        text_context_length=int(hparams.get("context_length", 16)),
        refine_iters=int(hparams.get("refine_iters", 1)),
        decode="ar" if hparams.get("decode_ar", True) else "nar",
    )


def _with_image_size(arch: ClipArchitecture, size: tuple, source: Path) -> ClipArchitecture:
    ph, pw = arch.patch_hw
    grid = (size[0] // ph) * (size[1] // pw)
    expected = arch.grid_size[0] * arch.grid_size[1]
    if grid != expected:
        raise CheckpointError(
            f"{source}: img_size {list(size)} does not fit the {expected} patch positions "
            "of the image encoder"
        )
    return replace(arch, image_size=(int(size[0]), int(size[1])))


def _check_is_clip4str(state: Mapping[str, torch.Tensor], source: Path) -> None:
    present = {part for part in MODEL_PARTS if any(k.startswith(part) for k in state)}
    if present == set(MODEL_PARTS):
        return
    sample = ", ".join(list(state)[:3]) or "no tensors at all"
    raise CheckpointError(
        f"{source}: not a CLIP4STR checkpoint: expected tensors under "
        f"{', '.join(MODEL_PARTS)} but found {sample} ..."
    )


def read_checkpoint(
    path: Path, trust_checkpoint: bool = False
) -> tuple[CLIP4STRConfig, dict[str, torch.Tensor]]:
    """The configuration and the model's own tensors of any checkpoint we understand."""
    state, hparams, saved_config = read_weights(path, trust_checkpoint)
    odd_key = next((key for key in state if not isinstance(key, str)), None)
    if odd_key is not None:
        raise CheckpointError(
            f"{path}: a state dict's keys are tensor names, but this one has the key "
            f"{odd_key!r}; the file is not a CLIP4STR checkpoint"
        )
    if saved_config is None:
        saved_config = _embedded_config(state)
    state = strip_wrapper_prefix(state)
    _check_is_clip4str(state, path)
    _check_tensors(state, path)
    if saved_config is not None:
        return _saved_config(saved_config, path), state
    if not hparams:  # a bare state dict: no settings beside the tensors
        shipped = shipped_config_fitting(state)
        if shipped is not None:
            return shipped, state
        try:
            return config_from_released(state, hparams, path), state
        except CheckpointError as error:
            raise CheckpointError(
                f"{path}: a bare state dict (tensors without a configuration) that fits no "
                "known architecture: not a model shipped with the package "
                f"({', '.join(SHIPPED_MODELS)}: its tensors differ), and not the released "
                f"CLIP4STR layout ({str(error).removeprefix(f'{path}: ')}). Load the model "
                "it came from and save it with model.save_pretrained(folder), which keeps "
                "the configuration beside the weights; then load that folder"
            ) from None
    return config_from_released(state, hparams, path), state


def shipped_config_fitting(state: Mapping[str, torch.Tensor]) -> CLIP4STRConfig | None:
    """The configuration of the shipped model whose tensors have exactly the names and
    shapes of ``state``, or None."""
    from safetensors import safe_open

    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        return None
    shapes = {key: tuple(value.shape) for key, value in state.items()}
    for folder in SHIPPED_MODELS.values():
        weights, config = folder / SAFETENSORS_NAME, folder / CONFIG_NAME
        if not (weights.is_file() and config.is_file()):
            continue
        with safe_open(str(weights), framework="pt") as handle:
            if set(handle.keys()) != set(shapes):
                continue
            if any(tuple(handle.get_slice(k).get_shape()) != shapes[k] for k in shapes):
                continue
        return _saved_config(json.loads(config.read_text(encoding="utf-8")), config)
    return None


def _saved_config(values: Any, source: Path) -> CLIP4STRConfig:
    try:
        if not isinstance(values, Mapping):
            raise TypeError(f"a {type(values).__name__}, not an object")
        return CLIP4STRConfig.from_dict(values)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
        raise CheckpointError(
            f"{source}: its configuration (config.json) does not describe a CLIP4STR model "
            f"({detail}); restore the file written by save_pretrained"
        ) from None


def _check_tensors(state: Mapping[str, Any], source: Path) -> None:
    """Refuse a state dict holding anything but tensors (beside ``_extra_state`` entries,
    a module's own data)."""
    for key, value in state.items():
        if not key.endswith("_extra_state") and not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{source}: {key} holds a {type(value).__name__}, not a tensor; the file is "
                "not a CLIP4STR checkpoint"
            )


def _embedded_config(state: Mapping[str, Any]) -> Any:
    for key, value in state.items():
        if key.endswith("_extra_state") and isinstance(value, Mapping):
            if EMBEDDED_CONFIG_KEY in value:
                return value[EMBEDDED_CONFIG_KEY]  # _saved_config checks that it is a dict
    return None


def check_state_fits(
    expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], source: object
) -> None:
    """Refuse a state dict that lacks a tensor of ``expected`` or has one of another shape.

    Loading non-strictly would leave those tensors randomly initialized, silently."""
    missing = [k for k in expected if k not in state]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise CheckpointError(
            f"{source}: {len(missing)} tensors are missing ({shown}); the checkpoint is "
            "incomplete or from another model version"
        )
    wrong = [k for k in expected if state[k].shape != expected[k].shape]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            f"{source}: tensor {k} has shape {tuple(state[k].shape)}, the model expects "
            f"{tuple(expected[k].shape)}; does the configuration match the checkpoint?"
        )


def load_checked_state(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: object
) -> None:
    """``model.load_state_dict`` that names what is missing, mis-shaped or left over."""
    expected = model.state_dict()
    check_state_fits(expected, state, source)
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        warnings.warn(
            f"{source}: ignoring {len(unexpected)} tensors the model does not use "
            f"({', '.join(unexpected[:5])})",
            stacklevel=3,
        )
    model.load_state_dict({k: state[k] for k in expected})


def clip_from_open_clip(
    model_name: str, pretrained: str | None
) -> tuple[dict[str, torch.Tensor], ClipArchitecture]:
    """Weights and shape of an open_clip CLIP (``pretrained``: a tag, a local file or None)."""
    import open_clip

    try:
        clip = open_clip.create_model(
            model_name, pretrained=pretrained, force_quick_gelu=True, device="cpu"
        )
    except RuntimeError as error:
        raise CheckpointError(
            f"open_clip could not build {model_name!r} with pretrained={pretrained!r}: "
            f"{_first_line(error)}. Without network, pass the weights file's path as "
            "`pretrained`"
        ) from None
    state = {k: v for k, v in clip.state_dict().items()}
    return state, infer_architecture(state)
