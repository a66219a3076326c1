"""CLIP4STR: scene text recognition with a CLIP image encoder and two decoders.

Read next to the paper (Zhao et al., IEEE TIP 2024): the image is encoded by CLIP's vision
tower; a *visual* decoder predicts a string from the image tokens; CLIP's text tower encodes
that prediction; a *cross-modal* decoder predicts again from image and text tokens together.
Both predictions are then refined with a cloze mask. The cross-modal logits are the output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from open_clip.tokenizer import SimpleTokenizer
from torch import nn

from .clip_backbone import ClipArchitecture, build_clip, encode_image_tokens, encode_text_tokens
from .decoding import DualDecoder, Reading, TorchBackend, read_in_batches
from .images import ImageInput, preprocess_batch
from .modules import CharDecoder
from .tokenizer import PRINTABLE_ASCII_94, CharTokenizer

DecodeMode = Literal["ar", "nar"]
CONFIG_FORMAT_VERSION = 1


@dataclass(frozen=True)
class CLIP4STRConfig:
    """Everything needed to rebuild a CLIP4STR model without its weights."""

    clip: ClipArchitecture
    charset: str = PRINTABLE_ASCII_94
    max_label_length: int = 25
    decoder_depth: int = 1
    decoder_heads: int = 8
    decoder_mlp_ratio: float = 4.0
    dropout: float = 0.1
    # Tokens of the visual prediction given to CLIP's text tower.
    text_context_length: int = 16
    refine_iters: int = 1
    decode: DecodeMode = "ar"
    # Inference normalisation; the published numbers were measured with 0.5 / 0.5.
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    extra: dict = field(default_factory=dict)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return self.clip.image_size

    def to_dict(self) -> dict:
        values = asdict(self)
        values["clip"] = self.clip.to_dict()
        values["format_version"] = CONFIG_FORMAT_VERSION
        return values

    @classmethod
    def from_dict(cls, values: Mapping) -> CLIP4STRConfig:
        values = dict(values)
        version = values.pop("format_version", CONFIG_FORMAT_VERSION)
        if version > CONFIG_FORMAT_VERSION:
            raise ValueError(
                f"config format {version} is newer than this version understands "
                f"({CONFIG_FORMAT_VERSION}); upgrade the package"
            )
        values["clip"] = ClipArchitecture.from_dict(values["clip"])
        for key in ("image_mean", "image_std"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


class CLIP4STR(nn.Module):
    """The CLIP4STR recognizer; ``forward`` maps normalised images to cross-modal logits."""

    def __init__(self, config: CLIP4STRConfig):
        super().__init__()
        self.config = config
        self.tokenizer = CharTokenizer(config.charset)
        self.clip_model = build_clip(config.clip)
        self.visual_decoder = self._build_decoder()
        self.cross_decoder = self._build_decoder()
        self._bpe: SimpleTokenizer | None = None
        # What ``read`` runs in unless told otherwise: "fp32" (exact) or "bf16" (autocast).
        self.precision = "fp32"

    def _build_decoder(self) -> CharDecoder:
        cfg = self.config
        return CharDecoder(
            width=cfg.clip.embed_dim,
            heads=cfg.decoder_heads,
            depth=cfg.decoder_depth,
            mlp_ratio=cfg.decoder_mlp_ratio,
            vocab_size=self.tokenizer.vocab_size,
            num_classes=self.tokenizer.num_classes,
            max_positions=cfg.max_label_length + 1,
            dropout=cfg.dropout,
        )

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, trust_checkpoint: bool = False, device: str | torch.device = "cpu"
    ) -> CLIP4STR:
        """Load a released checkpoint (.ckpt/.pt/.bin) or a ``save_pretrained`` folder/file.

        Files are unpickled with ``weights_only=True``; a file that needs full unpickling
        (which can run arbitrary code) is refused unless ``trust_checkpoint`` is True.
        """
        from .checkpoint import load_model

        return load_model(cls, Path(path), trust_checkpoint).to(device).eval()

    @classmethod
    def from_clip(
        cls,
        model_name: str,
        pretrained: str | None = None,
        **config_overrides,
    ) -> CLIP4STR:
        """An untrained recognizer around an open_clip CLIP (name + pretrained tag or file)."""
        from .checkpoint import clip_from_open_clip

        clip_state, arch = clip_from_open_clip(model_name, pretrained)
        model = cls(CLIP4STRConfig(clip=arch, **config_overrides))
        model.clip_model.load_state_dict(clip_state)
        return model

    def save_pretrained(self, directory: str | Path, dtype: torch.dtype | None = None) -> Path:
        """Write ``model.safetensors`` and ``config.json`` into ``directory``.

        ``dtype`` (e.g. ``torch.float16``) stores floating-point tensors in that precision to
        halve the file; loading casts them back to the model's own precision.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {}
        for key, value in self.state_dict().items():
            value = value.detach().cpu()
            if dtype is not None and value.is_floating_point():
                value = value.to(dtype)
            state[key] = value.contiguous()
        save_file(state, directory / "model.safetensors", metadata={"format": "clip4str"})
        config_text = json.dumps(self.config.to_dict(), indent=2)
        (directory / "config.json").write_text(config_text + "\n", encoding="utf-8")
        return directory

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ----------------------------------------------------------------- encoders

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return encode_image_tokens(self.clip_model, images)

    def clip_tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        if self._bpe is None:
            self._bpe = SimpleTokenizer(context_length=self.config.text_context_length)
        return self._bpe(list(texts), context_length=self.config.text_context_length)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return encode_text_tokens(self.clip_model, tokens)

    def cross_memory(self, image_memory: torch.Tensor, visual_logits: torch.Tensor) -> torch.Tensor:
        """Image tokens followed by CLIP's text tokens of the visual branch's prediction."""
        return self.decoding().cross_memory(image_memory, visual_logits)

    # ----------------------------------------------------------------- decoding

    def decoding(self, cross_early_exit: bool = True) -> DualDecoder:
        """The dual predict-and-refine decoder running on this module."""
        return DualDecoder(
            TorchBackend(self),
            self.tokenizer,
            self.clip_tokenize,
            self.config.max_label_length + 1,
            cross_early_exit=cross_early_exit,
        )

    def forward(
        self,
        images: torch.Tensor,
        refine_iters: int | None = None,
        decode: DecodeMode | None = None,
    ) -> torch.Tensor:
        """Cross-modal logits ``(B, T, num_classes)``, T <= max_label_length + 1."""
        refine_iters = self.config.refine_iters if refine_iters is None else refine_iters
        return self.decoding()(images, refine_iters, decode or self.config.decode)

    # ----------------------------------------------------------------- reading

    def preprocess(self, images: Sequence[ImageInput]) -> torch.Tensor:
        """Crops (paths, PIL images or arrays) as a normalised batch on the model's device."""
        cfg = self.config
        batch = preprocess_batch(images, cfg.image_size, cfg.image_mean, cfg.image_std)
        return batch.to(self.device)

    def read(
        self,
        images: ImageInput | Sequence[ImageInput],
        refine_iters: int | None = None,
        decode: DecodeMode | None = None,
        batch_size: int = 64,
        precision: str | None = None,
    ) -> list[Reading]:
        """Read word crops: one forward pass per batch of ``batch_size`` crops.

        ``precision``: "fp32" (exact) or "bf16" (autocast); default: ``self.precision``."""
        was_training = self.training
        self.eval()
        try:
            return read_in_batches(
                self,
                self.tokenizer,
                images,
                refine_iters,
                decode,
                batch_size,
                precision or self.precision,
            )
        finally:
            self.train(was_training)
