"""ONNX export of a CLIP4STR recognizer and an ONNX Runtime execution path.

``export_onnx(model, folder)`` writes one graph per network piece that decoding calls
(``decoding.DecodingBackend``): the image encoder, the text encoder, and for each of the two
decoders the memory key/value projection, the incremental step and the full pass used by
refinement and parallel decoding. ``OnnxRecognizer`` runs them with ONNX Runtime through the
same ``DualDecoder`` as the PyTorch module, so both paths decode identically.

    python -m recognizer export-onnx --recognizer default --out recognizer-onnx/
    python -m recognizer eval --recognizer-backend onnx --recognizer default --data DIR
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .cache import models_dir, weights_fingerprint
from .clip_backbone import encode_text_tokens
from .config import CLIP4STRConfig
from .decoding import CachedKeyValues
from .interface import OnnxExportError
from .model import CLIP4STR
from .reading import WordReader
from .tokenizer import CharTokenizer

MANIFEST = "onnx.json"
FORMAT_VERSION = 2
OPSET = 17
BRANCHES = ("visual", "cross")


# ------------------------------------------------------------------------- export


class _ImageEncoder(nn.Module):
    def __init__(self, model: CLIP4STR):
        super().__init__()
        self.model = model

    def forward(self, images):
        return self.model.encode_image(images)


class _TextEncoder(nn.Module):
    def __init__(self, model: CLIP4STR):
        super().__init__()
        self.clip = model.clip_model

    def forward(self, tokens):
        return encode_text_tokens(self.clip, tokens)


class _MemoryKV(nn.Module):
    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, memory):
        keys, values = self.decoder.memory_kv(memory)
        return (*keys, *values)


class _Step(nn.Module):
    """The step with its per-layer caches as separate inputs and outputs."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder
        self.depth = len(decoder.layers)

    def forward(self, token, index, *caches):
        d = self.depth
        groups = [caches[i * d : (i + 1) * d] for i in range(4)]
        logits, keys, values = self.decoder.step(token, index, *groups)
        return (logits, *keys, *values)


class _Full(nn.Module):
    """The full pass over projected memory (per-layer keys and values as inputs)."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder
        self.depth = len(decoder.layers)

    def forward(self, context, query_mask, content_mask, padding_mask, *memory):
        positions = slice(0, self.decoder.pos_queries.shape[1])
        memory_kv = (memory[: self.depth], memory[self.depth :])
        return self.decoder(
            context, None, positions, query_mask, content_mask, padding_mask, memory_kv=memory_kv
        )


def _cache_names(prefix: str, depth: int) -> list[str]:
    return [f"{prefix}_keys_{i}" for i in range(depth)] + [
        f"{prefix}_values_{i}" for i in range(depth)
    ]


def _graphs(model: CLIP4STR, batch: int = 2):
    """(name, module, example inputs, input names, output names, dynamic axes) per graph."""
    cfg = model.config
    height, width = cfg.image_size
    images = torch.zeros(batch, 3, height, width)
    with torch.no_grad():
        image_memory = model.encode_image(images)
    tokens = model.clip_tokenize(["word"] * batch)
    text_memory = torch.zeros(batch, tokens.shape[1], image_memory.shape[-1])
    memories = {"visual": image_memory, "cross": torch.cat([image_memory, text_memory], 1)}
    num_steps = cfg.max_label_length + 1
    b, m, n, t = "batch", "memory_length", "context_length", "cache_length"
    yield (
        "image_encoder",
        _ImageEncoder(model),
        (images,),
        ["images"],
        ["image_memory"],
        {"images": {0: b}, "image_memory": {0: b}},
    )
    yield (
        "text_encoder",
        _TextEncoder(model),
        (tokens,),
        ["tokens"],
        ["text_memory"],
        {"tokens": {0: b}, "text_memory": {0: b}},
    )
    for branch in BRANCHES:
        decoder = getattr(model, f"{branch}_decoder")
        depth = len(decoder.layers)
        memory = memories[branch]
        with torch.no_grad():
            memory_keys, memory_values = decoder.memory_kv(memory)
            # A non-empty cache as the example, so the exporter sees the general case.
            bos = torch.full((batch,), model.tokenizer.bos, dtype=torch.long)
            _, context_keys, context_values = decoder.step(
                bos, 0, *decoder.empty_context_kv(batch), memory_keys, memory_values
            )
        memory_names = _cache_names("memory", depth)
        key_axes, value_axes = {0: b, 3: m}, {0: b, 2: m}
        memory_axes = {name: key_axes if "_keys_" in name else value_axes for name in memory_names}
        yield (
            f"{branch}_memory_kv",
            _MemoryKV(decoder),
            (memory,),
            ["memory"],
            memory_names,
            {"memory": {0: b, 1: m}, **memory_axes},
        )
        context_names = _cache_names("context", depth)
        next_names = _cache_names("next_context", depth)
        axes = {"token": {0: b}, "logits": {0: b}, **memory_axes}
        for names, length in ((context_names, t), (next_names, n)):
            for name in names:
                axes[name] = {0: b, 3: length} if "_keys_" in name else {0: b, 2: length}
        yield (
            f"{branch}_step",
            _Step(decoder),
            (
                torch.full((batch,), 5, dtype=torch.long),
                torch.tensor(1, dtype=torch.long),
                *context_keys,
                *context_values,
                *memory_keys,
                *memory_values,
            ),
            ["token", "index", *context_names, *memory_names],
            ["logits", *next_names],
            axes,
        )
        context = torch.full((batch, 3), 5, dtype=torch.long)
        yield (
            f"{branch}_full",
            _Full(decoder),
            (
                context,
                torch.zeros(num_steps, 3),
                torch.zeros(3, 3),
                torch.zeros(batch, 3),
                *memory_keys,
                *memory_values,
            ),
            ["context", "query_mask", "content_mask", "padding_mask", *memory_names],
            ["logits"],
            {
                "context": {0: b, 1: n},
                "query_mask": {1: n},
                "content_mask": {0: n, 1: n},
                "padding_mask": {0: b, 1: n},
                "logits": {0: b},
                **memory_axes,
            },
        )


def _export_graphs(model: CLIP4STR, directory: Path, opset: int, files: dict) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about traced Python control flow (the layer loop and
        # shape arithmetic), all of which is fixed for a given model.
        warnings.simplefilter("ignore")
        for name, module, inputs, input_names, output_names, axes in _graphs(model):
            path = directory / f"{name}.onnx"
            # The exporter puts each module back in the mode it found it in; a new wrapper
            # starts in training mode, which would switch dropout on in the model below it.
            module.eval()
            try:
                torch.onnx.export(
                    module,
                    inputs,
                    str(path),
                    input_names=input_names,
                    output_names=output_names,
                    dynamic_axes=axes,
                    opset_version=opset,
                    dynamo=False,
                )
            except Exception as error:  # the exporter raises many types
                raise OnnxExportError(f"exporting {name} failed: {error}") from error
            files[name] = path.name


def export_onnx(
    model: CLIP4STR, directory: str | Path, opset: int = OPSET, int8: bool = False
) -> Path:
    """Write the recognizer's ONNX graphs, its config and a manifest into ``directory``.

    ``int8``: quantize the image encoder's matrix products to 8-bit integers (dynamic
    quantization: weights stored in int8, activations quantized per run). The encoder is
    most of the work for the large models; the decoders stay in fp32."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).float().cpu().eval()  # the caller's model stays as it is
    files = {}
    # nn.MultiheadAttention's inference fast path (a fused kernel) has no ONNX export.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        _export_graphs(model, directory, opset, files)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    (directory / "config.json").write_text(
        json.dumps(model.config.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    if int8:
        files["image_encoder"] = quantize_image_encoder(directory, files["image_encoder"])
    manifest = {
        "format_version": FORMAT_VERSION,
        "opset": opset,
        "int8_image_encoder": int8,
        "graphs": files,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return directory


def quantize_image_encoder(directory: Path, filename: str) -> str:
    """Dynamic int8 quantization of the image encoder's MatMul/Gemm nodes; the new file name."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = filename.replace(".onnx", ".int8.onnx")
    # The quantizer logs advice about pre-processing at WARNING level on every call.
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            directory / filename,
            directory / target,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"],
        )
    finally:
        logging.getLogger().setLevel(quiet)
    (directory / filename).unlink()
    return target


def is_onnx_export(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


# ------------------------------------------------------------------------- runtime


def default_threads() -> int:
    """Intra-op threads: PyTorch's own choice (the physical cores), unless set there."""
    return torch.get_num_threads()


class OnnxBackend(CachedKeyValues):
    """``DecodingBackend`` over ONNX Runtime sessions; tensors cross as numpy arrays."""

    def __init__(self, directory: Path, threads: int | None = None, providers=None):
        import onnxruntime as ort

        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format_version", 0) != FORMAT_VERSION:
            raise OnnxExportError(
                f"{directory} was exported by another version of this package (format "
                f"{manifest.get('format_version')}, this one reads {FORMAT_VERSION}); export "
                f"it again: python -m recognizer export-onnx --out {directory}"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = providers or ["CPUExecutionProvider"]
        self.sessions = {}
        for name, filename in manifest["graphs"].items():
            path = directory / filename
            if not path.is_file():
                raise OnnxExportError(
                    f"{path} is missing; export again with "
                    f"`python -m recognizer export-onnx --out {directory}`"
                )
            self.sessions[name] = ort.InferenceSession(str(path), options, providers=providers)
        self.inputs = {
            name: {i.name for i in session.get_inputs()} for name, session in self.sessions.items()
        }
        self.cache_shape = {}

    def _run(self, name: str, **feeds):
        wanted = self.inputs[name]
        arrays = {k: _numpy(v) for k, v in feeds.items() if k in wanted}
        return [torch.from_numpy(out) for out in self.sessions[name].run(None, arrays)]

    def encode_image(self, images):
        return self._run("image_encoder", images=images)[0]

    def encode_text(self, tokens):
        return self._run("text_encoder", tokens=tokens)[0]

    def memory_kv(self, branch, memory):
        arrays = self._run(f"{branch}_memory_kv", memory=memory)
        depth = len(arrays) // 2
        self.cache_shape[branch] = (depth, arrays[0].shape[1], arrays[0].shape[2])
        return tuple(arrays[:depth]), tuple(arrays[depth:])

    def empty_context_kv(self, branch, batch):
        depth, heads, head_width = self.cache_shape[branch]
        keys = tuple(torch.zeros(batch, heads, head_width, 0) for _ in range(depth))
        values = tuple(torch.zeros(batch, heads, 0, head_width) for _ in range(depth))
        return keys, values

    def step(self, branch, token, index, context_kv, memory_kv):
        depth = len(context_kv[0])
        feeds = dict(zip(_cache_names("context", depth), (*context_kv[0], *context_kv[1])))
        feeds.update(zip(_cache_names("memory", depth), (*memory_kv[0], *memory_kv[1])))
        index = torch.tensor(index, dtype=torch.long)
        logits, *caches = self._run(f"{branch}_step", token=token, index=index, **feeds)
        return logits, (tuple(caches[:depth]), tuple(caches[depth:]))

    def full(self, branch, context, memory_kv, query_mask, content_mask, padding_mask):
        depth = len(memory_kv[0])
        feeds = dict(zip(_cache_names("memory", depth), (*memory_kv[0], *memory_kv[1])))
        return self._run(
            f"{branch}_full",
            context=context,
            query_mask=query_mask,
            content_mask=content_mask,
            padding_mask=padding_mask,
            **feeds,
        )[0]


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy())


class OnnxRecognizer(WordReader):
    """A recognizer running exported graphs with ONNX Runtime; ``read`` as ``CLIP4STR.read``.

    Runs in fp32 on the CPU; ``read(..., precision="bf16")`` is refused."""

    precisions = ("fp32",)

    def __init__(self, directory: str | Path, threads: int | None = None, providers=None):
        directory = Path(directory)
        if not is_onnx_export(directory):
            raise OnnxExportError(
                f"{directory} is not an ONNX export (no {MANIFEST}); create one with "
                f"`python -m recognizer export-onnx --recognizer CHECKPOINT --out {directory}`"
            )
        self.directory = directory
        config_text = (directory / "config.json").read_text(encoding="utf-8")
        self.config = CLIP4STRConfig.from_dict(json.loads(config_text))
        self.tokenizer = CharTokenizer(self.config.charset)
        self.backend = OnnxBackend(directory, threads, providers)

    def decoding_backend(self) -> OnnxBackend:
        return self.backend

    def decode_logits(self, images: torch.Tensor, refine_iters=None, decode=None):
        return super().decode_logits(images.float().cpu(), refine_iters, decode)

    __call__ = decode_logits


def onnx_cache_dir() -> Path:
    return models_dir() / "onnx"


def load_onnx(
    checkpoint: Path,
    trust_checkpoint: bool = False,
    threads: int | None = None,
    int8: bool = False,
) -> OnnxRecognizer:
    """An ONNX Runtime recognizer for a checkpoint, exported once into the models folder."""
    if is_onnx_export(checkpoint):
        return OnnxRecognizer(checkpoint, threads)
    suffix = "-int8" if int8 else ""
    target = onnx_cache_dir() / f"{weights_fingerprint(checkpoint)}-v{FORMAT_VERSION}{suffix}"
    if not is_onnx_export(target):
        model = CLIP4STR.from_checkpoint(checkpoint, trust_checkpoint=trust_checkpoint)
        partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
        try:
            export_onnx(model, partial, int8=int8)
            partial.rename(target)
        except OSError:  # another process finished the same export first
            if not is_onnx_export(target):
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return OnnxRecognizer(target, threads)
