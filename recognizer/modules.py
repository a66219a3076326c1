"""Layers of the CLIP4STR decoders (PARSeq-style two-stream decoders).

Parameter names follow the released checkpoints (``pos_queries``, ``layers.N.self_attn``,
``layers.N.cross_attn``, ``linear1/2``, ``norm1/2``, ``norm_q``, ``norm_c``, ``text_embed``,
``norm``, ``head``) so that the official weights load without renaming.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def split_heads(x: torch.Tensor, attn: nn.MultiheadAttention) -> torch.Tensor:
    """``(B, N, D)`` -> ``(B, heads, N, D / heads)``."""
    batch, length, width = x.shape
    return x.reshape(batch, length, attn.num_heads, width // attn.num_heads).transpose(1, 2)


def key_value(attn: nn.MultiheadAttention, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys and values of ``x`` for ``attn``, split into heads: keys ``(B, heads, D / heads,
    N)`` (transposed: the layout the score product reads, so a cache of them is never
    transposed again), values ``(B, heads, N, D / heads)``."""
    width = attn.embed_dim
    weight, bias = attn.in_proj_weight, attn.in_proj_bias
    keys = split_heads(F.linear(x, weight[width : 2 * width], bias[width : 2 * width]), attn)
    values = split_heads(F.linear(x, weight[2 * width :], bias[2 * width :]), attn)
    return keys.transpose(-1, -2), values


def attend(
    attn: nn.MultiheadAttention,
    x: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-head attention of ``x`` over keys and values from ``key_value``, with the
    weights of ``attn``: the function ``attn(x, k, v)`` computes, with the key/value
    projections done once by the caller. ``mask`` is additive, broadcastable to
    ``(B, heads, Nq, Nk)``."""
    width = attn.embed_dim
    queries = split_heads(F.linear(x, attn.in_proj_weight[:width], attn.in_proj_bias[:width]), attn)
    scores = (queries * queries.shape[-1] ** -0.5) @ keys
    if mask is not None:
        scores = scores + mask
    weights = F.dropout(scores.softmax(-1), attn.dropout, attn.training)
    return attn.out_proj((weights @ values).transpose(1, 2).reshape(x.shape))


class TwoStreamDecoderLayer(nn.Module):
    """Pre-LayerNorm decoder layer with a query stream and a content stream.

    Both streams attend to the (normalized) content, then to the memory, then pass an MLP.
    The query stream carries position queries and produces the predictions; the content
    stream carries the character context and is only needed when another layer follows.
    The attention layers are ``nn.MultiheadAttention`` modules (their parameter names are
    those of the released checkpoints) applied through ``attend``, so that decoding can
    cache the keys and values of the memory and of the context between steps.
    """

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.1):
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.self_attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(width, hidden)
        self.linear2 = nn.Linear(hidden, width)
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.norm_q = nn.LayerNorm(width)
        self.norm_c = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def _stream(
        self,
        x: torch.Tensor,
        x_norm: torch.Tensor,
        context_kv: tuple[torch.Tensor, torch.Tensor],
        memory_kv: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        x = x + self.dropout1(attend(self.self_attn, x_norm, *context_kv, mask))
        x = x + self.dropout2(attend(self.cross_attn, self.norm1(x), *memory_kv))
        hidden = self.dropout(F.gelu(self.linear1(self.norm2(x))))
        return x + self.dropout3(self.linear2(hidden))

    def forward(
        self,
        query: torch.Tensor,
        content: torch.Tensor,
        memory: torch.Tensor,
        query_mask: torch.Tensor | None = None,
        content_mask: torch.Tensor | None = None,
        padding_mask: torch.Tensor | None = None,
        update_content: bool = True,
        memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both streams over the whole context. Masks are additive: ``query_mask``
        ``(Nq, Nc)``, ``content_mask`` ``(Nc, Nc)``, ``padding_mask`` ``(B, Nc)`` (keys).
        ``memory_kv``: the memory's keys and values when already projected (then ``memory``
        is not used)."""
        content_norm = self.norm_c(content)
        context_kv = key_value(self.self_attn, content_norm)
        if memory_kv is None:
            memory_kv = key_value(self.cross_attn, memory)
        padding = None if padding_mask is None else padding_mask[:, None, None, :]
        query = self._stream(
            query, self.norm_q(query), context_kv, memory_kv, _add_masks(query_mask, padding)
        )
        if update_content:
            content = self._stream(
                content, content_norm, context_kv, memory_kv, _add_masks(content_mask, padding)
            )
        return query, content

    def step(
        self,
        query: torch.Tensor,
        content: torch.Tensor,
        context_kv: tuple[torch.Tensor, torch.Tensor],
        memory_kv: tuple[torch.Tensor, torch.Tensor],
        update_content: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One autoregressive step: ``query`` is one position query ``(B, 1, D)``,
        ``content`` the newest context token ``(B, 1, D)``; ``context_kv`` holds the keys and
        values of the earlier context tokens (keys transposed, see ``key_value``), and
        ``memory_kv`` the memory's. Returns the new query, the new content token and the
        context cache extended by it. Equal to ``forward`` with a causal mask."""
        content_norm = self.norm_c(content)
        new_keys, new_values = key_value(self.self_attn, content_norm)
        context_kv = (
            torch.cat([context_kv[0], new_keys], dim=-1),
            torch.cat([context_kv[1], new_values], dim=-2),
        )
        query = self._stream(query, self.norm_q(query), context_kv, memory_kv, None)
        if update_content:
            content = self._stream(content, content_norm, context_kv, memory_kv, None)
        return query, content, context_kv


def _add_masks(mask: torch.Tensor | None, padding: torch.Tensor | None) -> torch.Tensor | None:
    if mask is None:
        return padding
    return mask if padding is None else mask + padding


class CharEmbedding(nn.Module):
    """Character embedding scaled by sqrt(width), as in the Transformer paper."""

    def __init__(self, vocab_size: int, width: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width)
        self.scale = math.sqrt(width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.scale * self.embedding(tokens)


class CharDecoder(nn.Module):
    """One CLIP4STR decoder: position queries, character context, memory -> class logits.

    ``context`` is ``[B]`` followed by characters; context token k > 0 is embedded together
    with position query k - 1 (the position it was predicted at), ``[B]`` without one.
    """

    def __init__(
        self,
        width: int,
        heads: int,
        depth: int,
        mlp_ratio: float,
        vocab_size: int,
        num_classes: int,
        max_positions: int,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            TwoStreamDecoderLayer(width, heads, mlp_ratio, dropout) for _ in range(depth)
        )
        self.text_embed = CharEmbedding(vocab_size, width)
        self.pos_queries = nn.Parameter(torch.empty(1, max_positions, width))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.trunc_normal_(self.pos_queries, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.trunc_normal_(module.weight, std=0.02)

    def embed_context(self, context: torch.Tensor) -> torch.Tensor:
        bos = self.text_embed(context[:, :1])
        chars = self.pos_queries[:, : context.shape[1] - 1] + self.text_embed(context[:, 1:])
        return self.dropout(torch.cat([bos, chars], dim=1))

    def forward(
        self,
        context: torch.Tensor,
        memory: torch.Tensor,
        positions: slice,
        query_mask: torch.Tensor | None = None,
        content_mask: torch.Tensor | None = None,
        padding_mask: torch.Tensor | None = None,
        memory_kv: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """Logits ``(B, len(positions), num_classes)`` for the queried positions.
        ``memory_kv`` (from ``memory_kv``) replaces ``memory`` when already projected."""
        content = self.embed_context(context)
        query = self.dropout(self.pos_queries[:, positions].expand(context.shape[0], -1, -1))
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            query, content = layer(
                query,
                content,
                memory,
                query_mask,
                content_mask,
                padding_mask,
                update_content=not last,
                memory_kv=None if memory_kv is None else (memory_kv[0][i], memory_kv[1][i]),
            )
        return self.head(self.norm(query))

    # ------------------------------------------------------------ incremental decoding
    # Autoregressive decoding asks for one position at a time. ``memory_kv`` projects the
    # memory once; ``step`` embeds only the newest context token and extends a key/value
    # cache, so each step costs one token's work instead of the whole context's and the
    # memory's. A cache is a tuple with one tensor per layer (keys transposed), so that a
    # step is a function of plain tensors and exports as one ONNX graph.

    def memory_kv(self, memory: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], ...]:
        """(keys per layer, values per layer) of ``memory`` for the cross-attentions."""
        pairs = [key_value(layer.cross_attn, memory) for layer in self.layers]
        return tuple(k for k, _ in pairs), tuple(v for _, v in pairs)

    def empty_context_kv(self, batch: int) -> tuple[tuple[torch.Tensor, ...], ...]:
        """The context cache before the first step (no context token yet)."""
        attn = self.layers[0].self_attn
        head_width = attn.embed_dim // attn.num_heads
        like = self.pos_queries
        keys = tuple(like.new_zeros(batch, attn.num_heads, head_width, 0) for _ in self.layers)
        values = tuple(like.new_zeros(batch, attn.num_heads, 0, head_width) for _ in self.layers)
        return keys, values

    def step(
        self,
        token: torch.Tensor,
        index: torch.Tensor | int,
        context_keys: Sequence[torch.Tensor],
        context_values: Sequence[torch.Tensor],
        memory_keys: Sequence[torch.Tensor],
        memory_values: Sequence[torch.Tensor],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """Logits ``(B, num_classes)`` of position ``index``, given context token ``index``
        (``token``: ``[B]`` at index 0, else the character predicted at ``index - 1``).
        Returns the logits and the context cache extended by that token."""
        positions = self.pos_queries[0]
        # Context token k > 0 carries position query k - 1; [B] (k = 0) carries none.
        context_positions = torch.cat([torch.zeros_like(positions[:1]), positions[:-1]])
        content = (self.text_embed(token) + context_positions[index]).unsqueeze(1)
        query = positions[index].expand(token.shape[0], 1, -1)
        keys, values = [], []
        for i, layer in enumerate(self.layers):
            query, content, (layer_keys, layer_values) = layer.step(
                query,
                content,
                (context_keys[i], context_values[i]),
                (memory_keys[i], memory_values[i]),
                update_content=i < len(self.layers) - 1,
            )
            keys.append(layer_keys)
            values.append(layer_values)
        logits = self.head(self.norm(query))[:, 0]
        return logits, tuple(keys), tuple(values)
