"""The training objective: permutation language modelling on both CLIP4STR branches.

As in PARSeq and CLIP4STR, each batch is decoded under several factorization orders of the
label (canonical, reversed, random ones and their mirrors), all sharing one image encoding.
The visual branch reads the image tokens; the cross-modal branch reads the image tokens
(detached) plus CLIP's text encoding of the visual branch's (detached) prediction under the
same order, and is conditioned on the ground-truth context. An optional CTC head on the
columns of the image token grid helps a model trained from scratch leave the early plateau;
it is a training aid only and is not part of the recognizer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..model import CLIP4STR


def factorization_orders(num_chars: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``(P, num_chars + 2)`` orders over positions ``[B]=0, chars 1..n, [E]=n+1``.

    The first is left to right, the second predicts ``[E]`` first and then right to left;
    the others are random orders, each followed by its mirror image.
    """
    n = num_chars
    if n <= 1:
        return torch.arange(n + 2).unsqueeze(0)
    middle = [torch.arange(n)]
    middle += [torch.randperm(n, generator=generator) for _ in range(max(count // 2 - 1, 0))]
    mirrored = []
    for order in middle:
        mirrored += [order, order.flip(0)]
    body = torch.stack(mirrored)[:count] + 1
    bos = torch.zeros((len(body), 1), dtype=torch.long)
    orders = torch.cat([bos, body, bos + n + 1], dim=1)
    if len(orders) > 1:
        orders[1, 1:] = n + 1 - torch.arange(n + 1)
    return orders


def order_masks(order: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Additive ``(content_mask, query_mask)`` for one factorization order.

    Content token a (``[B]`` or a character) sees the tokens at or before it in the order;
    the query for position q sees only the tokens strictly before q in the order.
    """
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))
    content_allowed = rank[:-1].unsqueeze(0) <= rank[:-1].unsqueeze(1)
    query_allowed = rank[:-1].unsqueeze(0) < rank[1:].unsqueeze(1)
    zeros = torch.zeros(content_allowed.shape, device=device)
    content = zeros.masked_fill(~content_allowed.to(device), float("-inf"))
    query = zeros.masked_fill(~query_allowed.to(device), float("-inf"))
    return content, query


class ColumnCTCHead(nn.Module):
    """CTC over the columns of the image token grid (patch tokens, after a class token if
    the tower has one, in; logits out)."""

    def __init__(self, width: int, num_classes: int, grid: tuple[int, int]):
        super().__init__()
        self.grid = grid
        self.proj = nn.Linear(width, num_classes + 1)  # + blank

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        gh, gw = self.grid
        patches = tokens[:, -gh * gw :]
        columns = patches.reshape(patches.shape[0], gh, gw, -1).mean(1)
        return self.proj(columns)


CTC_HEAD_FILE = "ctc_head.safetensors"


def save_ctc_head(weights: dict[str, torch.Tensor], folder: Path) -> Path:
    """Write the training-only CTC head's weights next to a model, to warm-start later runs."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().float().contiguous() for k, v in weights.items()}
    path = Path(folder) / CTC_HEAD_FILE
    save_file(state, path, metadata={"format": "clip4str-ctc-head"})
    return path


def load_ctc_head(head: ColumnCTCHead, folder: Path) -> str:
    """Load ``folder/ctc_head.safetensors`` into ``head``; returns what happened, for the log."""
    from safetensors.torch import load_file

    path = Path(folder) / CTC_HEAD_FILE
    if not path.is_file():
        return f"no {CTC_HEAD_FILE} in {folder}: CTC head starts from random weights"
    state = load_file(path)
    own = head.state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    if shapes != {k: tuple(v.shape) for k, v in own.items()}:
        return f"{path} does not fit this model ({shapes}): CTC head starts from random weights"
    head.load_state_dict(state)
    return f"CTC head loaded from {path}"


def pass_through(block: nn.Module) -> None:
    """Zero a residual transformer block's attention and MLP output projections: it then
    passes its input through unchanged."""
    with torch.no_grad():
        for out in (block.attn.out_proj, block.mlp.c_proj):
            out.weight.zero_()
            out.bias.zero_()


def grow_image_tower(model: CLIP4STR, extra_blocks: int) -> CLIP4STR:
    """``model`` with ``extra_blocks`` more transformer blocks at the top of its image tower.

    Each new block starts as a copy of the current last block (a text-line tower without
    blocks: freshly initialized) with its attention and MLP output projections set to zero,
    so it passes its input through unchanged: the grown model reads exactly as ``model``
    did, and training then puts the new depth to use instead of starting a larger model from
    scratch.
    """
    if extra_blocks < 1:
        raise ValueError(f"extra_blocks must be at least 1, not {extra_blocks}")
    old_config = model.config
    layers = old_config.clip.vision_layers
    config = replace(old_config, clip=replace(old_config.clip, vision_layers=layers + extra_blocks))
    grown = CLIP4STR(config).to(model.device)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    prefix = "clip_model.visual.transformer.resblocks"
    new_prefixes = tuple(f"{prefix}.{i}." for i in range(layers, layers + extra_blocks))
    stray = [k for k in missing if not k.startswith(new_prefixes)]
    if stray or unexpected:
        raise RuntimeError(f"growing the image tower lost weights: {stray + list(unexpected)}")
    blocks = grown.clip_model.visual.transformer.resblocks
    with torch.no_grad():
        for block in blocks[layers:]:
            if layers:
                block.load_state_dict(blocks[layers - 1].state_dict())
            pass_through(block)
    grown.precision = model.precision
    return grown.train(model.training)


@dataclass
class LossParts:
    total: torch.Tensor
    visual: float
    cross: float
    ctc: float


class PermutationObjective(nn.Module):
    """Loss of a CLIP4STR model on a labelled batch (the model is trained in place)."""

    def __init__(
        self,
        model: CLIP4STR,
        num_orders: int = 6,
        cross_weight: float = 1.0,
        ctc_weight: float = 0.0,
        seed: int = 0,
    ):
        super().__init__()
        self.model = model
        self.num_orders = num_orders
        self.cross_weight = cross_weight
        self.ctc_weight = ctc_weight
        self.generator = torch.Generator().manual_seed(seed)
        width = model.config.clip.embed_dim
        self.ctc_head = (
            ColumnCTCHead(width, model.tokenizer.num_classes, model.config.clip.grid_size)
            if ctc_weight > 0
            else None
        )

    def forward(self, images: torch.Tensor, labels: list[str]) -> LossParts:
        model, tok = self.model, self.model.tokenizer
        device = images.device
        target = tok.encode(labels, device)
        context, expected = target[:, :-1], target[:, 1:]
        padding = torch.zeros(context.shape, device=device).masked_fill(
            (context == tok.pad) | (context == tok.EOS), float("-inf")
        )
        image_memory = model.encode_image(images)
        orders = factorization_orders(context.shape[1] - 1, self.num_orders, self.generator)
        positions = slice(0, context.shape[1])

        visual_sum = cross_sum = torch.zeros((), device=device)
        weight_sum = 0
        for i, order in enumerate(orders):
            content_mask, query_mask = order_masks(order, device)
            counted = int((expected != tok.pad).sum())
            visual = model.visual_decoder(
                context, image_memory, positions, query_mask, content_mask, padding
            )
            visual_sum = visual_sum + counted * _cross_entropy(visual, expected, tok.pad)
            memory = model.cross_memory(image_memory.detach(), visual.detach())
            cross = model.cross_decoder(
                context, memory, positions, query_mask, content_mask, padding
            )
            cross_sum = cross_sum + counted * _cross_entropy(cross, expected, tok.pad)
            weight_sum += counted
            if i == 1:
                # Only the first two orders learn where the word ends.
                expected = expected.masked_fill(expected == tok.EOS, tok.pad)
        visual_loss = visual_sum / weight_sum
        cross_loss = cross_sum / weight_sum
        total = visual_loss + self.cross_weight * cross_loss
        ctc_value = 0.0
        if self.ctc_head is not None:
            ctc = self._ctc_loss(image_memory, target)
            total = total + self.ctc_weight * ctc
            ctc_value = float(ctc.detach())
        return LossParts(total, float(visual_loss.detach()), float(cross_loss.detach()), ctc_value)

    def _ctc_loss(self, image_memory: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tok = self.model.tokenizer
        log_probs = self.ctc_head(image_memory).float().log_softmax(-1).transpose(0, 1)
        chars = target[:, 1:]
        lengths = ((chars != tok.pad) & (chars != tok.EOS)).sum(1)
        # CTC classes: blank = 0, charset = 1..n (the tokenizer's ids, [E] never a target).
        flat = torch.cat([row[:n] for row, n in zip(chars, lengths.tolist())])
        input_lengths = torch.full((target.shape[0],), log_probs.shape[0], dtype=torch.long)
        return F.ctc_loss(log_probs, flat, input_lengths, lengths, blank=0, zero_infinity=True)


def _cross_entropy(logits: torch.Tensor, expected: torch.Tensor, pad: int) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, 1).float(), expected.flatten(), ignore_index=pad)
