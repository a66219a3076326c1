"""Layers of the CLIP4STR decoders (PARSeq-style two-stream decoders).

Parameter names follow the released checkpoints (``pos_queries``, ``layers.N.self_attn``,
``layers.N.cross_attn``, ``linear1/2``, ``norm1/2``, ``norm_q``, ``norm_c``, ``text_embed``,
``norm``, ``head``) so that the official weights load without renaming.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class TwoStreamDecoderLayer(nn.Module):
    """Pre-LayerNorm decoder layer with a query stream and a content stream.

    Both streams attend to the (normalised) content, then to the memory, then pass an MLP.
    The query stream carries position queries and produces the predictions; the content
    stream carries the character context and is only needed when another layer follows.
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
        context: torch.Tensor,
        memory: torch.Tensor,
        attn_mask: torch.Tensor | None,
        padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        attended = self.self_attn(
            x_norm,
            context,
            context,
            attn_mask=attn_mask,
            key_padding_mask=padding_mask,
            need_weights=False,
        )[0]
        x = x + self.dropout1(attended)
        attended = self.cross_attn(self.norm1(x), memory, memory, need_weights=False)[0]
        x = x + self.dropout2(attended)
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
    ) -> tuple[torch.Tensor, torch.Tensor]:
        content_norm = self.norm_c(content)
        query = self._stream(
            query, self.norm_q(query), content_norm, memory, query_mask, padding_mask
        )
        if update_content:
            content = self._stream(
                content, content_norm, content_norm, memory, content_mask, padding_mask
            )
        return query, content


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
    ) -> torch.Tensor:
        """Logits ``(B, len(positions), num_classes)`` for the queried positions."""
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
            )
        return self.head(self.norm(query))
