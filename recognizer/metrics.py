"""Word accuracy as scene-text benchmarks report it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def norm_alnum(text: str) -> str:
    """The standard protocol: lowercase, alphanumerics only."""
    return _NOT_ALNUM.sub("", text.lower())


@dataclass(frozen=True)
class WordAccuracy:
    total: int
    correct_alnum: int
    correct_exact: int

    @property
    def alnum(self) -> float:
        return self.correct_alnum / self.total if self.total else 0.0

    @property
    def exact(self) -> float:
        return self.correct_exact / self.total if self.total else 0.0


def word_accuracy(predictions: Sequence[str], labels: Sequence[str]) -> WordAccuracy:
    if len(predictions) != len(labels):
        raise ValueError("predictions and labels differ in length")
    pairs = list(zip(predictions, labels))
    return WordAccuracy(
        total=len(pairs),
        correct_alnum=sum(norm_alnum(p) == norm_alnum(g) for p, g in pairs),
        correct_exact=sum(p == g for p, g in pairs),
    )
