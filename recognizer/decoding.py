"""CLIP4STR's dual predict-and-refine decoding, written once for every execution backend.

A backend runs the network pieces; ``DualDecoder`` runs the algorithm (visual predict, cross
memory, cross predict, refinement). ``TorchBackend`` runs a ``CLIP4STR`` module; the ONNX
Runtime backend (``recognizer.onnx_backend``) runs exported graphs. All tensors passed
between ``DualDecoder`` and a backend are torch tensors on the model's device.

Decoding is incremental: each decoder projects the memory's keys and values once per batch
and autoregressive steps cache the context's, so a step costs one query's work
(``CharDecoder.step``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import torch

from .tokenizer import CharTokenizer, clip_text_of

Branch = Literal["visual", "cross"]


class DecodingBackend(Protocol):
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Normalized images ``(B, 3, H, W)`` -> image tokens ``(B, N, D)``."""

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """CLIP BPE tokens ``(B, L)`` -> text tokens ``(B, L, D)``."""

    def memory_kv(self, branch: Branch, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-attention keys and values of ``memory`` for the branch's decoder."""

    def step(
        self,
        branch: Branch,
        token: torch.Tensor,
        index: int,
        context_kv: tuple[torch.Tensor, torch.Tensor],
        memory_kv: tuple[torch.Tensor, torch.Tensor],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits ``(B, C)`` of position ``index`` and the extended context cache."""

    def empty_context_kv(self, branch: Branch, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The context cache before the first step."""

    def full(
        self,
        branch: Branch,
        context: torch.Tensor,
        memory_kv: tuple,
        query_mask: torch.Tensor,
        content_mask: torch.Tensor,
        padding_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Logits ``(B, T, C)`` of every position over the whole ``context`` (additive masks)."""

    def join_kv(self, first: tuple, second: tuple) -> tuple:
        """The memory cache of two token sequences -> that of the two concatenated."""

    def batch_of(self, memory_kv: tuple) -> tuple[int, torch.device]:
        """Batch size and device of a memory cache."""


def causal_mask(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Additive mask: position i sees context 0..i ([B] and the characters before i)."""
    return torch.triu(torch.full((size, size), float("-inf"), device=device), 1)


def cloze_mask(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Additive mask: position i sees every context token but its own character (i + 1)."""
    mask = torch.zeros((size, size), device=device)
    index = torch.arange(size - 1, device=device)
    mask[index, index + 1] = float("-inf")
    return mask


def padding_after_end(context: torch.Tensor, eos: int) -> torch.Tensor:
    """Additive key mask hiding the first ``[E]`` of each row and everything after it."""
    ended = (context == eos).int().cumsum(-1) > 0
    mask = torch.zeros(context.shape, device=context.device)
    return mask.masked_fill(ended, float("-inf"))


class DualDecoder:
    """Runs dual predict-and-refine decoding on a backend.

    ``clip_tokenize`` turns the visual branch's strings into CLIP BPE tokens.
    ``cross_early_exit`` stops the cross branch's autoregressive pass once every item has
    produced ``[E]`` (only when a refinement follows: refinement masks everything after the
    first ``[E]``, so the texts and logits are the same and the remaining steps are saved).

    ``batch_independent`` makes each item decode exactly as it would alone. The official
    decoding gives the cross branch's prediction as many positions as the longest visual
    prediction of the batch (the visual pass stops when *all* items have ended), and the
    cross refinement of a shorter item then reads a context that it would not have had
    alone: the same crop could read "chelart" in one batch and "chellt" in another. Here each
    item's cross prediction keeps its own visual prediction's length: its first refinement
    sees only the context it would have seen alone, and (without refinement) its positions
    past that length are a certain ``[E]``, so texts and confidences are those of the item
    decoded alone. False reproduces the official batch decoding, logits and all.

    Work that does not change is done once per batch: the image tokens' keys and values for
    each decoder's cross-attention (the cross memory is image tokens + text tokens, and a
    key/value projection is per token, so only the 16 text tokens are projected when the
    text changes), and the CLIP text encoding of each distinct string.
    """

    def __init__(
        self,
        backend: DecodingBackend,
        tokenizer: CharTokenizer,
        clip_tokenize: Callable[[Sequence[str]], torch.Tensor],
        num_steps: int,
        cross_early_exit: bool = True,
        batch_independent: bool = False,
    ):
        self.backend = backend
        self.tokenizer = tokenizer
        self.clip_tokenize = clip_tokenize
        self.num_steps = num_steps
        self.cross_early_exit = cross_early_exit
        self.batch_independent = batch_independent

    def __call__(self, images: torch.Tensor, refine_iters: int = 1, decode: str = "ar"):
        """Cross-modal logits ``(B, T, num_classes)``, T <= num_steps."""
        if decode not in ("ar", "nar"):
            raise ValueError(f"decode must be 'ar' or 'nar', not {decode!r}")
        image_memory = self.backend.encode_image(images)
        visual_kv = self.backend.memory_kv("visual", image_memory)
        cross_image_kv = self.backend.memory_kv("cross", image_memory)
        texts = TextMemory(self, image_memory)
        # Per item, the positions of its visual prediction (None: the batch's), which is
        # also what its cross prediction gets (see batch_independent).
        length = None
        if decode == "ar":
            visual = self.autoregressive("visual", visual_kv, self.num_steps, True)
            if self.batch_independent:
                length = self.length_of(visual)
            cross_kv = self.backend.join_kv(cross_image_kv, texts.memory_kv(visual))
            early = self.cross_early_exit and refine_iters > 0
            cross = self.autoregressive("cross", cross_kv, visual.shape[1], early, length)
            cross = self.end_at(cross, length)
        else:  # every item has all positions: nothing depends on the batch
            visual = self.parallel("visual", visual_kv)
            cross_kv = self.backend.join_kv(cross_image_kv, texts.memory_kv(visual))
            cross = self.parallel("cross", cross_kv)
        for iteration in range(refine_iters):
            visual = self.refine("visual", visual_kv, visual)
            cross_kv = self.backend.join_kv(cross_image_kv, texts.memory_kv(visual))
            cross = self.refine("cross", cross_kv, cross, length if iteration == 0 else None)
        return cross

    def length_of(self, logits: torch.Tensor) -> torch.Tensor:
        """Per item, the positions up to and including its first ``[E]`` (all if none)."""
        ended = logits.argmax(-1) == self.tokenizer.EOS
        positions = torch.arange(logits.shape[1], device=logits.device)
        first = torch.where(ended, positions, logits.shape[1] - 1).amin(dim=1)
        return first + 1

    def end_at(self, logits: torch.Tensor, length: torch.Tensor | None) -> torch.Tensor:
        """``logits`` with each item's positions from ``length`` on set to a certain ``[E]``."""
        if length is None:
            return logits
        positions = torch.arange(logits.shape[1], device=logits.device)
        past = positions[None, :] >= length[:, None]
        if not bool(past.any()):
            return logits
        certain_end = torch.full_like(logits[0, 0], -1e4)
        certain_end[self.tokenizer.EOS] = 0.0
        return torch.where(past[:, :, None], certain_end, logits)

    def cross_memory(self, image_memory: torch.Tensor, visual_logits: torch.Tensor):
        """Image tokens followed by CLIP's text tokens of the visual branch's prediction."""
        text_memory = TextMemory(self, image_memory).tokens(visual_logits)
        return torch.cat([image_memory, text_memory], dim=1)

    def autoregressive(
        self,
        branch: Branch,
        memory_kv,
        num_steps: int,
        stop_early: bool,
        length: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Greedy decoding, one position per step, each seeing its own earlier predictions.

        ``length``: per item, the number of positions it needs; an item counts as ended for
        ``stop_early`` when it has them."""
        batch, device = self.backend.batch_of(memory_kv)
        context_kv = self.backend.empty_context_kv(branch, batch)
        token = torch.full((batch,), self.tokenizer.bos, dtype=torch.long, device=device)
        ended = torch.zeros(batch, dtype=torch.bool, device=device)
        steps = []
        for index in range(num_steps):
            logits, context_kv = self.backend.step(branch, token, index, context_kv, memory_kv)
            steps.append(logits)
            token = logits.argmax(-1)
            ended |= token == self.tokenizer.EOS
            if length is not None:
                ended |= length <= index + 1
            if stop_early and bool(ended.all()):
                break
        return torch.stack(steps, dim=1)

    def parallel(self, branch: Branch, memory_kv) -> torch.Tensor:
        """All positions at once from ``[B]`` alone."""
        batch, device = self.backend.batch_of(memory_kv)
        context = torch.full((batch, 1), self.tokenizer.bos, dtype=torch.long, device=device)
        zeros = torch.zeros
        return self.backend.full(
            branch,
            context,
            memory_kv,
            zeros((self.num_steps, 1), device=device),
            zeros((1, 1), device=device),
            zeros((batch, 1), device=device),
        )

    def refine(
        self,
        branch: Branch,
        memory_kv,
        previous: torch.Tensor,
        length: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict every position again, each seeing all previous predictions but its own.

        ``length``: per item, the positions its context has; context past them is hidden
        like padding."""
        batch, device = self.backend.batch_of(memory_kv)
        bos = torch.full((batch, 1), self.tokenizer.bos, dtype=torch.long, device=device)
        context = torch.cat([bos, previous[:, :-1].argmax(-1)], dim=1)
        n = context.shape[1]
        mask = cloze_mask(self.num_steps, device)
        padding = padding_after_end(context, self.tokenizer.EOS)
        if length is not None:
            past = torch.arange(n, device=device)[None, :] >= length[:, None]
            padding = padding.masked_fill(past, float("-inf"))
        return self.backend.full(branch, context, memory_kv, mask[:, :n], mask[:n, :n], padding)


class TextMemory:
    """CLIP text tokens of predicted strings, each distinct string encoded once per batch."""

    def __init__(self, decoder: DualDecoder, image_memory: torch.Tensor):
        self.decoder = decoder
        self.dtype, self.device = image_memory.dtype, image_memory.device
        self.encoded: dict[str, torch.Tensor] = {}

    def tokens(self, visual_logits: torch.Tensor) -> torch.Tensor:
        """``(B, context length, D)`` text tokens of the visual branch's prediction."""
        tokenizer = self.decoder.tokenizer
        texts = [clip_text_of(t) for t in tokenizer.decode_texts(visual_logits)]
        new = sorted(set(texts) - self.encoded.keys())
        if new:
            tokens = self.decoder.clip_tokenize(new).to(self.device)
            encoded = self.decoder.backend.encode_text(tokens).to(self.dtype)
            self.encoded.update(zip(new, encoded))
        return torch.stack([self.encoded[t] for t in texts])

    def memory_kv(self, visual_logits: torch.Tensor):
        """The cross decoder's keys and values of those text tokens."""
        return self.decoder.backend.memory_kv("cross", self.tokens(visual_logits))


class CachedKeyValues:
    """Key/value caches as the backends keep them: a tuple of per-layer keys ``(B, heads,
    D / heads, N)`` and one of per-layer values ``(B, heads, N, D / heads)``."""

    @staticmethod
    def join_kv(first, second):
        """The caches of two token sequences -> the cache of the two concatenated."""
        keys = tuple(torch.cat([a, b], dim=-1) for a, b in zip(first[0], second[0]))
        values = tuple(torch.cat([a, b], dim=-2) for a, b in zip(first[1], second[1]))
        return keys, values

    @staticmethod
    def batch_of(memory_kv) -> tuple[int, torch.device]:
        keys = memory_kv[0][0]
        return keys.shape[0], keys.device


class TorchBackend(CachedKeyValues):
    """Runs the pieces of a ``CLIP4STR`` module (any device, any dtype)."""

    def __init__(self, model):
        self.model = model
        self.decoders = {"visual": model.visual_decoder, "cross": model.cross_decoder}

    def encode_image(self, images):
        return self.model.encode_image(images)

    def encode_text(self, tokens):
        return self.model.encode_text(tokens)

    def memory_kv(self, branch, memory):
        return self.decoders[branch].memory_kv(memory)

    def empty_context_kv(self, branch, batch):
        return self.decoders[branch].empty_context_kv(batch)

    def step(self, branch, token, index, context_kv, memory_kv):
        logits, keys, values = self.decoders[branch].step(token, index, *context_kv, *memory_kv)
        return logits, (keys, values)

    def full(self, branch, context, memory_kv, query_mask, content_mask, padding_mask):
        decoder = self.decoders[branch]
        positions = slice(0, decoder.pos_queries.shape[1])
        return decoder(
            context, None, positions, query_mask, content_mask, padding_mask, memory_kv=memory_kv
        )
