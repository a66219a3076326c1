"""CLIP4STR in MMOCR's registry: a thin layer over the plain PyTorch model.

Importing this module registers, in MMOCR's registries:

* ``CLIP4STRRecognizer`` (MODELS): an MMOCR recognizer holding a :class:`~recognizer.CLIP4STR`
  as ``self.model``. Its arguments are ``architecture`` plus any
  :class:`~recognizer.CLIP4STRConfig` field; ``checkpoint=`` loads weights at build time.
* ``CLIP4STRDataPreprocessor`` (MODELS): MMOCR's ``TextRecogDataPreprocessor`` (batching,
  BGR->RGB) with the normalization of ``CLIP4STR.read``, so both read the same words;
* ``CLIP4STRResize`` (TRANSFORMS): a crop brought to the input size as ``CLIP4STR.read``
  brings it (``resize="stretch"`` or ``"keep_aspect"``, see ``CLIP4STRConfig.resize``);
* ``CLIP4STRPostprocessor`` (MODELS): cross-modal logits -> ``TextRecogDataSample.pred_text``;
* ``CLIP4STROptimWrapperConstructor`` (OPTIM_WRAPPER_CONSTRUCTORS): the paper's AdamW
  parameter groups (decoders at a higher LR, no decay on norms, biases and embeddings).

Reading never imports training code: the training objective (``recognizer.training``) is
built on the first call of ``loss``, or at build time when the config asks for the auxiliary
CTC head (whose weights the optimizer must see).

Weights in MMOCR's checkpoints sit under ``model.``; the released files name them without it
(``clip_model.*``, ``visual_decoder.*``, ``cross_decoder.*``). A load-state-dict pre-hook adds
the prefix and refuses incomplete or mis-shaped weights (``recognizer.checkpoint``'s checks),
because mmengine loads non-strictly and would leave missing tensors randomly initialized.
MMOCR checkpoints also store the CLIP4STR configuration (``_extra_state``), so that
``CLIP4STR.from_checkpoint`` rebuilds any architecture from them. A runner checkpoint keeps the
training state as pickled Python objects: load it with
``CLIP4STR.from_checkpoint(path, trust_checkpoint=True)``, or through mmengine inside
``pipeline.openmmlab.trusted_checkpoints(path)``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from .compat import apply_openmmlab_workarounds

apply_openmmlab_workarounds()  # before anything imports mmocr / mmdet / mmcv.ops

from mmcv.transforms import BaseTransform  # noqa: E402
from mmengine.model import is_model_wrapper  # noqa: E402
from mmengine.structures import LabelData  # noqa: E402
from mmocr.models.textrecog.data_preprocessors import TextRecogDataPreprocessor  # noqa: E402
from mmocr.models.textrecog.recognizers.base import BaseRecognizer  # noqa: E402
from mmocr.registry import (  # noqa: E402
    MODELS,
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    OPTIMIZERS,
    TRANSFORMS,
)
from mmocr.structures import TextRecogDataSample  # noqa: E402

from recognizer import CLIP4STR, CLIP4STRConfig  # noqa: E402
from recognizer.checkpoint import (  # noqa: E402
    EMBEDDED_CONFIG_KEY,
    MODEL_PARTS,
    CheckpointError,
    check_state_fits,
)
from recognizer.clip_backbone import architecture_from_spec  # noqa: E402
from recognizer.hub import WeightsUnavailableError, locate_weights  # noqa: E402
from recognizer.images import (  # noqa: E402
    check_resize,
    fit_to_input,
    fitted_width,
    normalize_pixels,
)
from recognizer.tokenizer import CharTokenizer, normalize_label  # noqa: E402

__all__ = [
    "CLIP4STRDataPreprocessor",
    "CLIP4STRResize",
    "CLIP4STROptimWrapperConstructor",
    "CLIP4STRPostprocessor",
    "CLIP4STRRecognizer",
    "config_from_fields",
]


def config_from_fields(architecture: str | Mapping, fields: Mapping) -> CLIP4STRConfig:
    """The model configuration a config file's ``model=dict(...)`` describes."""
    # ``clip`` is what ``architecture`` describes; every other field may be given.
    allowed = [name for name in CLIP4STRConfig.field_names() if name != "clip"]
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise TypeError(
            f"CLIP4STRRecognizer got unknown arguments {unknown}; it takes `architecture`, "
            f"the loading and training options, and these CLIP4STRConfig fields: "
            f"{', '.join(allowed)}"
        )
    return CLIP4STRConfig(clip=architecture_from_spec(architecture), **fields)


def _load_named_weights(name_or_path: str, trust_checkpoint: bool) -> CLIP4STR | None:
    """The model of ``checkpoint=``; None (random init, with a warning) if 'default' is absent."""
    try:
        path = locate_weights(name_or_path)
    except WeightsUnavailableError as error:
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


@TRANSFORMS.register_module()
class CLIP4STRResize(BaseTransform):
    """The data-pipeline step that fits a crop to the input size exactly as
    ``CLIP4STR.read`` does (``recognizer.images.fit_to_input``).

    ``scale`` is (width, height), as for MMOCR's ``Resize``; ``resize`` is the model's
    ``CLIP4STRConfig.resize``; ``mean`` (on [0, 1] RGB) fills the width a ``"keep_aspect"``
    crop leaves, so that it normalizes to 0. The image is MMOCR's BGR; a padded one becomes
    float32. Sets ``img_shape`` and ``valid_ratio`` (the share of the width the crop fills)."""

    def __init__(
        self,
        scale: Sequence[int],
        resize: str = "stretch",
        mean: Sequence[float] = (0.5, 0.5, 0.5),
    ):
        self.scale = tuple(int(v) for v in scale)
        self.resize = resize
        self.mean = tuple(mean)
        check_resize(resize)

    def transform(self, results: dict) -> dict:
        width, height = self.scale
        image = results["img"]
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        bgr_pad = [255.0 * m for m in self.mean[::-1]]
        fitted = fit_to_input(Image.fromarray(image), (height, width), self.resize, bgr_pad)
        results["img"] = fitted
        results["img_shape"] = fitted.shape[:2]
        filled = fitted_width(*image.shape[:2], (height, width))
        results["valid_ratio"] = 1.0 if self.resize == "stretch" else filled / width
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale}, resize={self.resize!r})"


@MODELS.register_module()
class CLIP4STRDataPreprocessor(TextRecogDataPreprocessor):
    """MMOCR's recognition data preprocessor with ``CLIP4STR.read``'s normalization.

    ``mean``/``std`` are on [0, 1] RGB pixels, as in ``CLIP4STRConfig``; the recognizer fills
    them in from its configuration when the config file leaves them out."""

    def __init__(
        self,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        bgr_to_rgb: bool = True,
        **kwargs,
    ):
        super().__init__(mean=None, std=None, bgr_to_rgb=bgr_to_rgb, **kwargs)
        self.clip4str_mean = tuple(mean)
        self.clip4str_std = tuple(std)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        data["inputs"] = normalize_pixels(data["inputs"], self.clip4str_mean, self.clip4str_std)
        return data


@MODELS.register_module()
class CLIP4STRPostprocessor:
    """Greedy decoding of the cross-modal logits up to ``[E]`` into ``pred_text``.

    ``pred_text.item`` is the text; ``pred_text.score`` the confidence of each character and
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
            pred_text.score = decoded.char_confidences
            sample.pred_text = pred_text
        return data_samples


@MODELS.register_module()
class CLIP4STRRecognizer(BaseRecognizer):
    """MMOCR recognizer around :class:`~recognizer.CLIP4STR` (held as ``self.model``).

    Args:
        architecture: CLIP shape: a preset name (``recognizer.clip_backbone.PRESETS``),
            ``dict(preset=..., **field_overrides)`` or every ``ClipArchitecture`` field.
        checkpoint: weights loaded at build time: a known name (``recognizer.KNOWN_NAMES``) or
            a path. ``'default'`` falls back to random weights with a warning while the
            embedded default weights are not installed; anything else must load.
        trust_checkpoint: allow full unpickling of ``checkpoint`` (see ``from_checkpoint``).
        freeze_text_layers: CLIP text blocks (with the token and position embeddings) kept
            frozen in training; 6 when fine-tuning a pre-trained CLIP.
        freeze_image_encoder: keep the pre-trained text-line encoder of a ``textline`` image
            tower frozen in training (as the default model was trained).
        loss: keyword arguments of ``recognizer.training.objective.PermutationObjective``.
        **config_fields: any other :class:`~recognizer.CLIP4STRConfig` field (``charset``,
            ``refine_iters``, ``decode``, ``image_mean`` ...).
    """

    def __init__(
        self,
        architecture: str | Mapping,
        checkpoint: str | Path | None = None,
        trust_checkpoint: bool = False,
        freeze_text_layers: int = 0,
        freeze_image_encoder: bool = False,
        loss: Mapping | None = None,
        data_preprocessor: Mapping | nn.Module | None = None,
        postprocessor: Mapping | None = None,
        init_cfg: Mapping | None = None,
        **config_fields,
    ):
        config = config_from_fields(architecture, config_fields)
        # Built here from MMOCR's registry: BaseModel would look in mmengine's root registry,
        # which only finds MMOCR's classes when the default scope happens to be 'mmocr'.
        if not isinstance(data_preprocessor, nn.Module):
            data_preprocessor = MODELS.build(
                dict(data_preprocessor or dict(type="CLIP4STRDataPreprocessor")),
                default_args=dict(mean=config.image_mean, std=config.image_std),
            )
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.model = self._build_model(config, checkpoint, trust_checkpoint)
        # Weights loaded here: MMOCR's inferencer need not warn of random ones.
        self.weights_built_in = checkpoint is not None
        self.model.freeze_text_layers(freeze_text_layers)
        if freeze_image_encoder:
            self.model.freeze_image_encoder()
        self.loss_settings = dict(loss or {})
        self._objective = None
        if self.loss_settings.get("ctc_weight", 0) > 0:
            self.ctc_head = self._training_objective().ctc_head
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
        differences = config.structural_differences(loaded.config)
        if differences:
            raise CheckpointError(
                f"checkpoint={checkpoint!r} does not fit this config: " + "; ".join(differences)
            )
        # The config's own settings (refine_iters, decode, dropout) take precedence.
        loaded.config = config
        _set_decoder_dropout(loaded, config.dropout)
        return loaded

    def _training_objective(self):
        if self._objective is None:
            from recognizer.training.objective import PermutationObjective

            # Kept out of the module tree (it holds ``self.model`` too, whose weights would
            # then be saved twice); only its optional CTC head has weights of its own.
            objective = PermutationObjective(self.model, **self.loss_settings)
            object.__setattr__(self, "_objective", objective)
        return self._objective

    # ------------------------------------------------------------------ checkpoints

    def get_extra_state(self) -> dict:
        # Saved beside the weights so that CLIP4STR.from_checkpoint can rebuild the model from
        # an MMOCR checkpoint (a 32x128 or conv-stem model cannot be inferred from shapes).
        return {EMBEDDED_CONFIG_KEY: self.model.config.to_dict()}

    def set_extra_state(self, state: object) -> None:
        if not isinstance(state, Mapping) or EMBEDDED_CONFIG_KEY not in state:
            return  # a released checkpoint: it describes no config
        saved = CLIP4STRConfig.from_dict(state[EMBEDDED_CONFIG_KEY])
        differences = self.model.config.structural_differences(saved)
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
        """Permutation-LM loss of both branches; only ``loss`` is optimized, the rest logged."""
        cfg = self.model.config
        labels = [
            normalize_label(sample.gt_text.item, cfg.charset, cfg.max_label_length)
            for sample in data_samples
        ]
        # Labels that are empty after normalization or too long are skipped, as in training.
        keep = [i for i, label in enumerate(labels) if label is not None]
        if not keep:
            trainable = [p for p in self.parameters() if p.requires_grad]
            return dict(loss=sum(p.sum() for p in trainable) * 0.0)
        objective = self._training_objective()
        parts = objective(inputs[keep], [labels[i] for i in keep])
        device = parts.total.device
        losses = dict(
            loss=parts.total,
            visual_ce=torch.tensor(parts.visual, device=device),
            cross_ce=torch.tensor(parts.cross, device=device),
        )
        if objective.ctc_head is not None:
            losses["ctc"] = torch.tensor(parts.ctc, device=device)
        return losses


def _accept_released_layout(
    module: CLIP4STRRecognizer, state_dict: dict, prefix: str, *args, **kwargs
) -> None:
    """Load-state-dict pre-hook: released key names, and no silently random weights.

    Released checkpoints name the tensors ``clip_model.*``, ``visual_decoder.*`` and
    ``cross_decoder.*``; here they live under ``model.``.
    """
    inner = prefix + "model."
    bare = tuple(prefix + part for part in MODEL_PARTS)
    for key in [k for k in state_dict if k.startswith(bare)]:
        state_dict[inner + key[len(prefix) :]] = state_dict.pop(key)
    expected = {inner + k: v for k, v in module.model.state_dict().items()}
    check_state_fits(expected, state_dict, "the checkpoint for CLIP4STRRecognizer")
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
        from recognizer.training.trainer import parameter_groups

        if is_model_wrapper(model):
            model = model.module
        cfg = copy.deepcopy(self.optim_wrapper_cfg)
        optimizer_cfg = dict(cfg.pop("optimizer"))
        lr = optimizer_cfg["lr"]
        weight_decay = optimizer_cfg.get("weight_decay", 0.0)
        groups = parameter_groups(model.model, lr, self.decoder_lr_scale, weight_decay)
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
