"""Choosing how lines are cut into words: at a line reader's spaces or at gaps in the ink."""

from __future__ import annotations

from .ctc_splitting import CTCWordSplitter
from .word_splitting import WordSplitter

SPLIT_METHODS = ("ink", "ctc")


def make_word_splitter(settings: dict):
    """A line-to-word splitter from settings: ``method`` ``"ctc"`` (the default:
    :class:`~pipeline.ctc_splitting.CTCWordSplitter`, the spaces of a line reader) or
    ``"ink"`` (:class:`WordSplitter`, gaps in the ink); the other keys are its arguments."""
    settings = dict(settings)
    method = settings.pop("method", "ctc")
    if method == "ink":
        return WordSplitter(**settings)
    if method == "ctc":
        return CTCWordSplitter(**settings)
    raise ValueError(f"word splitting method must be one of {SPLIT_METHODS}, not {method!r}")
