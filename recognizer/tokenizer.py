"""Character tokenizer of the recognizer and the text adapter for CLIP's text tower.

Token ids follow the released CLIP4STR models: ``[E]`` (end) is 0, the charset takes
1..len(charset), then ``[B]`` (begin) and ``[P]`` (pad). The heads predict ``[E]`` and the
charset only, so they have ``len(charset) + 1`` outputs.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import torch

from .metrics import norm_alnum

PRINTABLE_ASCII_94 = (
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)
LOWERCASE_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Decoded:
    """A greedy decoding of one sequence of logits."""

    text: str
    # Probability of each character, plus that of ``[E]`` when the sequence ends with one.
    char_confidences: list[float]

    @property
    def confidence(self) -> float:
        product = 1.0
        for p in self.char_confidences:
            product *= p
        return product


class CharTokenizer:
    """Maps label strings to token ids and greedy logits back to strings."""

    EOS = 0

    def __init__(self, charset: str) -> None:
        if len(set(charset)) != len(charset):
            raise ValueError("the charset has repeated characters")
        self.charset = charset
        self._index = {c: i + 1 for i, c in enumerate(charset)}

    @property
    def bos(self) -> int:
        return len(self.charset) + 1

    @property
    def pad(self) -> int:
        return len(self.charset) + 2

    @property
    def num_classes(self) -> int:
        """Outputs of a head: ``[E]`` plus the charset."""
        return len(self.charset) + 1

    @property
    def vocab_size(self) -> int:
        """Inputs of a character embedding: ``[E]``, the charset, ``[B]`` and ``[P]``."""
        return len(self.charset) + 3

    def encode(self, labels: list[str], device: torch.device | str = "cpu") -> torch.Tensor:
        """``[B] label [E] [P]...`` for each label, padded to the longest one."""
        rows = [[self.bos, *(self._index[c] for c in label), self.EOS] for label in labels]
        width = max(len(r) for r in rows)
        out = torch.full((len(rows), width), self.pad, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row)
        return out.to(device)

    def ids_to_text(self, ids: list[int]) -> str:
        return "".join(self.charset[i - 1] for i in ids)

    def decode(self, logits: torch.Tensor) -> list[Decoded]:
        """Greedy decoding up to the first ``[E]`` of each row of ``(B, T, C)`` logits."""
        probs, ids = logits.float().softmax(-1).max(-1)
        results = []
        for row_probs, row_ids in zip(probs.tolist(), ids.tolist()):
            end = row_ids.index(self.EOS) if self.EOS in row_ids else len(row_ids)
            text = self.ids_to_text(row_ids[:end])
            results.append(Decoded(text, row_probs[: end + 1]))
        return results

    def decode_texts(self, logits: torch.Tensor) -> list[str]:
        ids = logits.argmax(-1).tolist()
        texts = []
        for row in ids:
            end = row.index(self.EOS) if self.EOS in row else len(row)
            texts.append(self.ids_to_text(row[:end]))
        return texts


def normalize_label(label: str, charset: str, max_length: int) -> str | None:
    """Training label as the released models saw it, or None when it cannot be used.

    White space is removed, accents are folded to ASCII (NFKD), characters outside the charset
    are dropped, and labels longer than ``max_length`` are rejected.
    """
    label = "".join(label.split())
    label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    allowed = set(charset)
    label = "".join(c for c in label if c in allowed)
    if not label or len(label) > max_length:
        return None
    return label


def clip_text_of(prediction: str) -> str:
    """The text given to CLIP's text tower: CLIP is case blind, so lowercase alphanumerics."""
    return norm_alnum(prediction)
