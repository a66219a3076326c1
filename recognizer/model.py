"""CLIP4STR: scene text recognition with a CLIP image encoder and two decoders.

Read next to the paper (Zhao et al., IEEE TIP 2024): the image is encoded by CLIP's vision
tower; a *visual* decoder predicts a string from the image tokens; CLIP's text tower encodes
that prediction; a *cross-modal* decoder predicts again from image and text tokens together.
Both predictions are then refined with a cloze mask. The cross-modal logits are the output.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from .checkpoint import clip_from_open_clip, load_checked_state, read_checkpoint
from .clip_backbone import build_clip, encode_image_tokens, encode_text_tokens
from .config import CLIP4STRConfig, DecodeMode
from .decoding import TorchBackend
from .modules import CharDecoder
from .reading import WordReader
from .tokenizer import CharTokenizer

__all__ = ["CLIP4STR", "CLIP4STRConfig", "DecodeMode"]


class CLIP4STR(WordReader, nn.Module):
    """The CLIP4STR recognizer; ``forward`` maps normalized images to cross-modal logits."""

    def __init__(self, config: CLIP4STRConfig):
        super().__init__()
        self.config = config
        self.tokenizer = CharTokenizer(config.charset)
        self.clip_model = build_clip(config.clip)
        self.visual_decoder = self._build_decoder()
        self.cross_decoder = self._build_decoder()
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
            max_positions=cfg.num_positions,
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
        path = Path(path)
        config, state = read_checkpoint(path, trust_checkpoint)
        model = cls(config)
        load_checked_state(model, state, path)
        return model.to(device).eval()

    @classmethod
    def from_clip(
        cls,
        model_name: str,
        pretrained: str | None = None,
        **config_overrides,
    ) -> CLIP4STR:
        """An untrained recognizer around an open_clip CLIP (name + pretrained tag or file)."""
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

    def freeze_text_layers(self, count: int) -> None:
        """Freeze CLIP's token and position embeddings and its first ``count`` text blocks.

        The paper fine-tunes with the lower half of the pre-trained text tower frozen."""
        if count <= 0:
            return
        clip = self.clip_model
        for module in (clip.token_embedding, *clip.transformer.resblocks[:count]):
            module.requires_grad_(False)
        clip.positional_embedding.requires_grad_(False)

    def freeze_image_encoder(self) -> None:
        """Freeze the pre-trained text-line encoder of a ``textline`` image tower; the
        projection, positions and transformer blocks above it still train."""
        if self.config.clip.image_tower != "textline":
            raise ValueError(
                f"only a 'textline' image tower has a pre-trained encoder to freeze, not "
                f"{self.config.clip.image_tower!r}"
            )
        self.clip_model.visual.encoder.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ----------------------------------------------------------------- encoders

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return encode_image_tokens(self.clip_model, images)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return encode_text_tokens(self.clip_model, tokens)

    def cross_memory(self, image_memory: torch.Tensor, visual_logits: torch.Tensor) -> torch.Tensor:
        """Image tokens followed by CLIP's text tokens of the visual branch's prediction."""
        return self.decoding().cross_memory(image_memory, visual_logits)

    # ----------------------------------------------------------------- decoding

    def decoding_backend(self) -> TorchBackend:
        return TorchBackend(self)

    # ``model(images, refine_iters, decode)``: cross-modal logits ``(B, T, num_classes)``.
    forward = WordReader.decode_logits

    def read(self, *args, **kwargs):
        """``WordReader.read`` in evaluation mode (dropout off), whatever mode the module is in."""
        was_training = self.training
        self.eval()
        try:
            return super().read(*args, **kwargs)
        finally:
            self.train(was_training)
