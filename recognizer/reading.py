"""Reading word crops: what every recognizer backend shares.

``WordReader`` turns crops into ``Reading``s: preprocessing, CLIP's BPE tokenizer for the
cross-modal branch, the dual predict-and-refine decoding (``decoding.DualDecoder``) and
greedy text decoding. A backend only says how the network pieces run
(``decoding_backend()``): ``CLIP4STR`` runs them in PyTorch, ``OnnxRecognizer`` with ONNX
Runtime, so both decode with the same code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from open_clip.tokenizer import SimpleTokenizer

from .config import CLIP4STRConfig, DecodeMode
from .decoding import DecodingBackend, DualDecoder
from .images import ImageInput, preprocess_batch
from .interface import PRECISIONS, Reading
from .tokenizer import CharTokenizer


class WordReader:
    """Crops in, readings out. Subclasses set ``config`` and ``tokenizer`` and provide
    ``device`` and ``decoding_backend()``."""

    config: CLIP4STRConfig
    tokenizer: CharTokenizer
    # What ``read`` runs in unless told otherwise: "fp32" (exact) or "bf16" (autocast).
    precision: str = "fp32"
    # The precisions this backend can run in.
    precisions: tuple[str, ...] = PRECISIONS
    # Each crop reads as it would alone, whatever shares its batch (see DualDecoder);
    # False reproduces the official implementation's batch decoding exactly.
    batch_independent: bool = True
    _bpe: SimpleTokenizer | None = None

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def decoding_backend(self) -> DecodingBackend:
        raise NotImplementedError

    def clip_tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """CLIP BPE tokens of the visual branch's strings, ``text_context_length`` wide."""
        length = self.config.text_context_length
        if self._bpe is None:
            self._bpe = SimpleTokenizer(context_length=length)
        return self._bpe(list(texts), context_length=length)

    def decoding(self, cross_early_exit: bool = True) -> DualDecoder:
        """The dual predict-and-refine decoder over this reader's backend."""
        return DualDecoder(
            self.decoding_backend(),
            self.tokenizer,
            self.clip_tokenize,
            self.config.num_positions,
            cross_early_exit=cross_early_exit,
            batch_independent=self.batch_independent,
        )

    def decode_logits(
        self,
        images: torch.Tensor,
        refine_iters: int | None = None,
        decode: DecodeMode | None = None,
    ) -> torch.Tensor:
        """Cross-modal logits ``(B, T, num_classes)`` of normalized images, T <= 26."""
        refine_iters = self.config.refine_iters if refine_iters is None else refine_iters
        return self.decoding()(images, refine_iters, decode or self.config.decode)

    def preprocess(self, images: Sequence[ImageInput]) -> torch.Tensor:
        """Crops (paths, PIL images or arrays) as a normalized batch on the reader's device."""
        cfg = self.config
        batch = preprocess_batch(images, cfg.image_size, cfg.image_mean, cfg.image_std, cfg.resize)
        return batch.to(self.device)

    @torch.inference_mode()
    def read(
        self,
        images: ImageInput | Sequence[ImageInput],
        refine_iters: int | None = None,
        decode: DecodeMode | None = None,
        batch_size: int = 64,
        precision: str | None = None,
    ) -> list[Reading]:
        """Read word crops, one decoding per batch of ``batch_size`` crops.

        ``precision``: "fp32" (exact) or "bf16" (autocast: fast on GPUs and on CPUs with AMX
        or AVX-512 BF16, slower than fp32 on others); default: ``self.precision``."""
        precision = precision or self.precision
        if precision not in self.precisions:
            raise ValueError(
                f"precision must be one of {self.precisions} for {type(self).__name__}, "
                f"not {precision!r}"
            )
        if not isinstance(images, (list, tuple)):
            images = [images]
        readings: list[Reading] = []
        for start in range(0, len(images), batch_size):
            batch = self.preprocess(images[start : start + batch_size])
            with torch.autocast(batch.device.type, torch.bfloat16, enabled=precision == "bf16"):
                logits = self.decode_logits(batch, refine_iters, decode)
            for decoded in self.tokenizer.decode(logits.float()):
                readings.append(Reading(decoded.text, decoded.confidence, decoded.char_confidences))
        return readings
