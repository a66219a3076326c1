"""The result's own JSON (schema in ``pipeline/result.py``)."""

from __future__ import annotations

from .base import Format, Photo


def render(result, photo: Photo) -> bytes:
    return result.to_json().encode("utf-8")


FORMAT = Format(
    "json",
    ".json",
    "the result's own JSON (pipeline/result.py)",
    render,
    media_type="application/json",
)
