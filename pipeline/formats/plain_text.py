"""Plain text: the lines in reading order, a blank line between blocks."""

from __future__ import annotations

from .base import Format, Photo


def render(result, photo: Photo) -> bytes:
    blocks = [block.text for block in result.blocks if block.text]
    return ("\n\n".join(blocks) + "\n").encode("utf-8") if blocks else b""


FORMAT = Format(
    "text",
    ".txt",
    "the text, lines in reading order, blocks apart",
    render,
    media_type="text/plain; charset=utf-8",
)
