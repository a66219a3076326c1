"""CLIP4STR as an MMOCR text recognizer: registry entries over the plain PyTorch model.

Importing this module registers, in MMOCR's registries:

* ``CLIP4STRRecognizer`` (MODELS): an MMOCR recognizer holding a :class:`~recognizer.CLIP4STR`
  as ``self.model``; ``loss`` is the permutation objective of ``recognizer.training``;
* ``CLIP4STRPostprocessor`` (MODELS): cross-modal logits -> ``TextRecogDataSample.pred_text``;
* ``CLIP4STROptimWrapperConstructor`` (OPTIM_WRAPPER_CONSTRUCTORS): the paper's AdamW
  parameter groups (decoders at a higher LR, no decay on norms, biases and embeddings).

The data preprocessor is MMOCR's own ``TextRecogDataPreprocessor``: mean/std 127.5 on 0-255
pixels and BGR->RGB are the recognizer's normalisation (0.5 / 0.5 on [0, 1] RGB).

Weights in MMOCR's checkpoints sit under ``model.``; the released files name them without it
(``clip_model.*``, ``visual_decoder.*``, ``cross_decoder.*``). A load-state-dict pre-hook adds the
prefix and refuses incomplete or mis-shaped weights, because mmengine loads non-strictly and
would otherwise leave the missing tensors randomly initialised with only a log line.

MMOCR checkpoints also store the CLIP4STR configuration (``_extra_state``), so that
``CLIP4STR.from_checkpoint`` rebuilds any architecture from them (a 32x128 or conv-stem model
cannot be inferred from tensor shapes). A runner checkpoint keeps the training state as pickled
Python objects (mmengine's ``message_hub``), which cannot be read with ``weights_only``:
load it with ``CLIP4STR.from_checkpoint(path, trust_checkpoint=True)``, or through mmengine
(``rec_weights=``, ``load_from=``) inside ``recognizer.compat.trusted_checkpoints(path)``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from .compat import apply_openmmlab_workarounds

apply_openmmlab_workarounds()  # before anything imports mmocr / mmdet / mmcv.ops

from mmengine.model import is_model_wrapper  # noqa: E402
from mmengine.structures import LabelData  # noqa: E402
from mmocr.models.textrecog.recognizers.base import BaseRecognizer  # noqa: E402
from mmocr.registry import (  # noqa: E402
    MODELS,
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    OPTIMIZERS,
)
from mmocr.structures import TextRecogDataSample  # noqa: E402

from . import hub  # noqa: E402
from . import train as recipe  # noqa: E402
from .checkpoint import EMBEDDED_CONFIG_KEY, CheckpointError  # noqa: E402
from .clip_backbone import SMALL_CONV, VIT_B16, VIT_H14, VIT_L14, ClipArchitecture  # noqa: E402
from .model import CLIP4STR, CLIP4STRConfig, DecodeMode  # noqa: E402
from .tokenizer import PRINTABLE_ASCII_94, CharTokenizer, normalize_label  # noqa: E402
from .training import PermutationObjective  # noqa: E402

__all__ = [
    "ARCHITECTURES",
    "CLIP4STROptimWrapperConstructor",
    "CLIP4STRPostprocessor",
    "CLIP4STRRecognizer",
    "architecture_from_cfg",
]

# Names a config may give as ``architecture=dict(preset=...)``.
ARCHITECTURES = {
    "VIT_B16": VIT_B16,
    "VIT_L14": VIT_L14,
    "VIT_H14": VIT_H14,
    "SMALL_CONV": SMALL_CONV,
}
_MODEL_PARTS = ("clip_model.", "visual_decoder.", "cross_decoder.")
# Fields that change the weights' meaning; the rest (refine_iters, decode, dropout) may differ.
_STRUCTURAL_FIELDS = (
    "clip",
    "charset",
    "max_label_length",
    "decoder_depth",
    "decoder_heads",
    "decoder_mlp_ratio",
    "text_context_length",
)


def architecture_from_cfg(spec: str | Mapping) -> ClipArchitecture:
    """A CLIP shape from a preset name, ``dict(preset=..., **overrides)`` or all fields."""
    fields = {"preset": spec} if isinstance(spec, str) else dict(spec)
    preset = fields.pop("preset", None)
    if preset is not None:
        if preset not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture preset {preset!r}; choose one of {', '.join(ARCHITECTURES)} "
                "or give every ClipArchitecture field"
            )
        fields = {**ARCHITECTURES[preset].to_dict(), **fields}
    try:
        return ClipArchitecture.from_dict(fields)
    except TypeError as error:
        raise ValueError(f"architecture {dict(spec)}: {error}") from None


def _structural_differences(ours: CLIP4STRConfig, theirs: CLIP4STRConfig) -> list[str]:
    def normalised(config: CLIP4STRConfig) -> CLIP4STRConfig:
        # A square patch may be written 16 or (16, 16).
        return replace(config, clip=replace(config.clip, patch_size=config.clip.patch_hw))

    ours, theirs = normalised(ours), normalised(theirs)
    return [
        f"{name}: config {getattr(ours, name)!r}, checkpoint {getattr(theirs, name)!r}"
        for name in _STRUCTURAL_FIELDS
        if getattr(ours, name) != getattr(theirs, name)
    ]


def _load_named_weights(name_or_path: str, trust_checkpoint: bool) -> CLIP4STR | None:
    """The model of ``checkpoint=``; None (random init, with a warning) if 'default' is absent."""
    try:
        path = hub.resolve_weights(name_or_path)
    except hub.WeightsUnavailableError as error:
        if str(name_or_path) != "default":
            raise
        warnings.warn(
            f"CLIP4STR starts from RANDOM weights: {error}. Predictions are meaningless until "
            "trained weights are loaded (rec_weights=..., load_from=... or checkpoint=<path>).",
            stacklevel=3,
        )
        return None
    return CLIP4STR.from_checkpoint(path, trust_checkpoint=trust_checkpoint)


def _set_decoder_dropout(model: CLIP4STR, p: float) -> None:
    for decoder in (model.visual_decoder, model.cross_decoder):
        for module in decoder.modules():
            if isinstance(module, nn.Dropout):
                module.p = p
            elif isinstance(module, nn.MultiheadAttention):
                module.dropout = p


@MODELS.register_module()
class CLIP4STRPostprocessor:
    """Greedy decoding of the cross-modal logits up to ``[E]`` into ``pred_text``.

    ``pred_text.item`` is the text; ``pred_text.score`` the probability of each character and
    then of the end token, as in ``Reading.char_confidences``: their product is the word's
    confidence, and an empty reading still has a score (MMOCR's inferencer averages it).
    """

    def __init__(self, tokenizer: CharTokenizer):
        self.tokenizer = tokenizer

    def __call__(
        self, logits: torch.Tensor, data_samples: Sequence[TextRecogDataSample]
    ) -> Sequence[TextRecogDataSample]:
        for decoded, sample in zip(self.tokenizer.decode(logits), data_samples):
            pred_text = LabelData()
            pred_text.item = decoded.text
            pred_text.score = decoded.char_probs
            sample.pred_text = pred_text
        return data_samples


@MODELS.register_module()
class CLIP4STRRecognizer(BaseRecognizer):
    """MMOCR recognizer around :class:`~recognizer.CLIP4STR` (held as ``self.model``).

    Args:
        architecture: CLIP shape: a preset name (see ``ARCHITECTURES``), ``dict(preset=...,
            **field_overrides)`` or every :class:`ClipArchitecture` field.
        charset, max_label_length, decoder_depth, decoder_heads, decoder_mlp_ratio, dropout,
            refine_iters, decode: as in :class:`~recognizer.CLIP4STRConfig`.
        checkpoint: weights loaded at build time: a known name (``recognizer.KNOWN_NAMES``) or
            a path. ``'default'`` falls back to random weights with a warning while the
            embedded default weights are not installed; anything else must load.
        trust_checkpoint: allow full unpickling of ``checkpoint`` (see ``from_checkpoint``).
        freeze_text_layers: CLIP text blocks (with the token and position embeddings) kept
            frozen in training; 6 when fine-tuning a pre-trained CLIP.
        loss: keyword arguments of :class:`~recognizer.training.PermutationObjective`.
    """

    def __init__(
        self,
        architecture: str | Mapping,
        charset: str = PRINTABLE_ASCII_94,
        max_label_length: int = 25,
        decoder_depth: int = 1,
        decoder_heads: int = 8,
        decoder_mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        refine_iters: int = 1,
        decode: DecodeMode = "ar",
        checkpoint: str | Path | None = None,
        trust_checkpoint: bool = False,
        freeze_text_layers: int = 0,
        loss: Mapping | None = None,
        data_preprocessor: Mapping | nn.Module | None = None,
        postprocessor: Mapping | None = None,
        init_cfg: Mapping | None = None,
    ):
        config = CLIP4STRConfig(
            clip=architecture_from_cfg(architecture),
            charset=charset,
            max_label_length=max_label_length,
            decoder_depth=decoder_depth,
            decoder_heads=decoder_heads,
            decoder_mlp_ratio=decoder_mlp_ratio,
            dropout=dropout,
            refine_iters=refine_iters,
            decode=decode,
        )
        if data_preprocessor is None:
            data_preprocessor = dict(
                type="TextRecogDataPreprocessor",
                mean=[255 * m for m in config.image_mean],
                std=[255 * s for s in config.image_std],
                bgr_to_rgb=True,
            )
        # Built here from MMOCR's registry: BaseModel would look in mmengine's root registry,
        # which only finds MMOCR's classes when the default scope happens to be 'mmocr'.
        if isinstance(data_preprocessor, Mapping):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.model = self._build_model(config, checkpoint, trust_checkpoint)
        recipe.freeze_text_layers(self.model, freeze_text_layers)
        objective = PermutationObjective(self.model, **(loss or {}))
        # Kept out of the module tree: it holds ``self.model`` too, whose weights would then be
        # saved twice. Only its optional CTC head has weights of its own.
        object.__setattr__(self, "_objective", objective)
        if objective.ctc_head is not None:
            self.ctc_head = objective.ctc_head
        self.postprocessor = MODELS.build(
            postprocessor or dict(type="CLIP4STRPostprocessor"),
            default_args=dict(tokenizer=self.model.tokenizer),
        )
        self.register_load_state_dict_pre_hook(_accept_released_layout)

    @staticmethod
    def _build_model(
        config: CLIP4STRConfig, checkpoint: str | Path | None, trust_checkpoint: bool
    ) -> CLIP4STR:
        loaded = _load_named_weights(str(checkpoint), trust_checkpoint) if checkpoint else None
        if loaded is None:
            return CLIP4STR(config)
        differences = _structural_differences(config, loaded.config)
        if differences:
            raise CheckpointError(
                f"checkpoint={checkpoint!r} does not fit this config: " + "; ".join(differences)
            )
        # The config's own settings (refine_iters, decode, dropout) take precedence.
        loaded.config = config
        _set_decoder_dropout(loaded, config.dropout)
        return loaded

    # ------------------------------------------------------------------ checkpoints

    def get_extra_state(self) -> dict:
        # Saved beside the weights so that CLIP4STR.from_checkpoint can rebuild the model from
        # an MMOCR checkpoint (a 32x128 or conv-stem model cannot be inferred from shapes).
        return {EMBEDDED_CONFIG_KEY: self.model.config.to_dict()}

    def set_extra_state(self, state: object) -> None:
        if not isinstance(state, Mapping) or EMBEDDED_CONFIG_KEY not in state:
            return  # a released checkpoint: it describes no config
        saved = CLIP4STRConfig.from_dict(state[EMBEDDED_CONFIG_KEY])
        differences = _structural_differences(self.model.config, saved)
        if differences:
            raise CheckpointError(
                "the checkpoint was saved from another CLIP4STR configuration: "
                + "; ".join(differences)
            )

    # ------------------------------------------------------------------ MMOCR interface

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Image tokens (class + patches) after CLIP's projection: the decoders' memory."""
        return self.model.encode_image(inputs)

    def _forward(
        self, inputs: torch.Tensor, data_samples: Sequence | None = None, **kwargs
    ) -> torch.Tensor:
        """Cross-modal logits ``(N, T, len(charset) + 1)``."""
        return self.model(inputs)

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[TextRecogDataSample] | None, **kwargs
    ) -> Sequence[TextRecogDataSample]:
        if data_samples is None:
            data_samples = [TextRecogDataSample() for _ in range(inputs.shape[0])]
        return self.postprocessor(self._forward(inputs), data_samples)

    def loss(
        self, inputs: torch.Tensor, data_samples: Sequence[TextRecogDataSample], **kwargs
    ) -> dict[str, torch.Tensor]:
        """Permutation-LM loss of both branches; only ``loss`` is optimised, the rest logged."""
        cfg = self.model.config
        labels = [
            normalize_label(sample.gt_text.item, cfg.charset, cfg.max_label_length)
            for sample in data_samples
        ]
        # Labels that are empty after normalisation or too long are skipped, as in training.
        keep = [i for i, label in enumerate(labels) if label is not None]
        if not keep:
            trainable = [p for p in self.parameters() if p.requires_grad]
            return dict(loss=sum(p.sum() for p in trainable) * 0.0)
        parts = self._objective(inputs[keep], [labels[i] for i in keep])
        device = parts.total.device
        losses = dict(
            loss=parts.total,
            visual_ce=torch.tensor(parts.visual, device=device),
            cross_ce=torch.tensor(parts.cross, device=device),
        )
        if self._objective.ctc_head is not None:
            losses["ctc"] = torch.tensor(parts.ctc, device=device)
        return losses


def _accept_released_layout(
    module: CLIP4STRRecognizer, state_dict: dict, prefix: str, *args, **kwargs
) -> None:
    """Load-state-dict pre-hook: released key names, and no silently random weights.

    Released checkpoints name the tensors ``clip_model.*``, ``visual_decoder.*`` and
    ``cross_decoder.*``; here they live under ``model.``. Every tensor of the recognizer must
    then be present with its shape: mmengine loads non-strictly and would only log the rest.
    """
    inner = prefix + "model."
    bare = tuple(prefix + part for part in _MODEL_PARTS)
    for key in [k for k in state_dict if k.startswith(bare)]:
        state_dict[inner + key[len(prefix) :]] = state_dict.pop(key)
    expected = module.model.state_dict()
    missing = [
        inner + k
        for k in expected
        if inner + k not in state_dict and not k.endswith("num_batches_tracked")
    ]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise CheckpointError(
            f"{len(missing)} CLIP4STR tensors are missing from the checkpoint ({shown}); "
            "refusing to leave them randomly initialised. Is it a CLIP4STR checkpoint, and "
            "complete?"
        )
    wrong = [
        f"{inner + k} {tuple(state_dict[inner + k].shape)} (model: {tuple(v.shape)})"
        for k, v in expected.items()
        if inner + k in state_dict and state_dict[inner + k].shape != v.shape
    ]
    if wrong:
        raise CheckpointError(
            f"checkpoint tensors do not fit the configured CLIP4STR: {'; '.join(wrong[:3])}. "
            "Does the config's architecture/charset match the checkpoint?"
        )
    # Released files carry no configuration; mark that, instead of a missing key warning.
    state_dict.setdefault(prefix + "_extra_state", None)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class CLIP4STROptimWrapperConstructor:
    """Parameter groups of the CLIP4STR recipe for the configured optimizer.

    No weight decay for norms, biases, embeddings and position queries; the decoders (and an
    optional CTC head) learn at ``paramwise_cfg.decoder_lr_scale`` x the encoder's LR (19 in
    the paper, where the encoder is a pre-trained CLIP).
    """

    def __init__(self, optim_wrapper_cfg: Mapping, paramwise_cfg: Mapping | None = None):
        self.optim_wrapper_cfg = copy.deepcopy(dict(optim_wrapper_cfg))
        self.decoder_lr_scale = float((paramwise_cfg or {}).get("decoder_lr_scale", 1.0))

    def __call__(self, model: torch.nn.Module):
        if is_model_wrapper(model):
            model = model.module
        cfg = copy.deepcopy(self.optim_wrapper_cfg)
        optimizer_cfg = dict(cfg.pop("optimizer"))
        lr = optimizer_cfg["lr"]
        weight_decay = optimizer_cfg.get("weight_decay", 0.0)
        groups = recipe.parameter_groups(model.model, lr, self.decoder_lr_scale, weight_decay)
        others = [
            p
            for name, p in model.named_parameters()
            if p.requires_grad and not name.startswith("model.")
        ]
        if others:
            groups.append({"params": others, "lr": lr * self.decoder_lr_scale})
        optimizer_cfg["params"] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(cfg, default_args=dict(optimizer=optimizer))
