"""``CLIP4STRConfig``: everything needed to rebuild a CLIP4STR model without its weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Literal

from .clip_backbone import ClipArchitecture
from .images import check_resize
from .tokenizer import PRINTABLE_ASCII_94

DecodeMode = Literal["ar", "nar"]
CONFIG_FORMAT_VERSION = 1
# Fields that change what the weights mean (resize: how their training crops were fitted);
# the others (refine_iters, decode, dropout, normalization) are inference or training
# settings that may differ from a checkpoint's.
STRUCTURAL_FIELDS = (
    "clip",
    "charset",
    "max_label_length",
    "decoder_depth",
    "decoder_heads",
    "decoder_mlp_ratio",
    "text_context_length",
    "resize",
)


@dataclass(frozen=True)
class CLIP4STRConfig:
    """Everything needed to rebuild a CLIP4STR model without its weights."""

    clip: ClipArchitecture
    charset: str = PRINTABLE_ASCII_94
    max_label_length: int = 25
    decoder_depth: int = 1
    decoder_heads: int = 8
    decoder_mlp_ratio: float = 4.0
    dropout: float = 0.1
    # Tokens of the visual prediction given to CLIP's text tower.
    text_context_length: int = 16
    refine_iters: int = 1
    decode: DecodeMode = "ar"
    # Inference normalization; the published numbers were measured with 0.5 / 0.5.
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    # How a crop is brought to the input size (recognizer.images.RESIZE_MODES): "stretch"
    # (PIL bicubic, aspect not kept; the released models) or "keep_aspect" (OpenCV linear
    # to the input height, padded to the input width; as PP-OCR's encoder was trained).
    resize: str = "stretch"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_resize(self.resize)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return self.clip.image_size

    @property
    def num_positions(self) -> int:
        """Decoder positions: the longest label plus the end token."""
        return self.max_label_length + 1

    def to_dict(self) -> dict:
        values = asdict(self)
        values["clip"] = self.clip.to_dict()
        values["format_version"] = CONFIG_FORMAT_VERSION
        return values

    @classmethod
    def from_dict(cls, values: Mapping) -> CLIP4STRConfig:
        values = dict(values)
        version = values.pop("format_version", CONFIG_FORMAT_VERSION)
        if version > CONFIG_FORMAT_VERSION:
            raise ValueError(
                f"config format {version} is newer than this version understands "
                f"({CONFIG_FORMAT_VERSION}); upgrade the package"
            )
        values["clip"] = ClipArchitecture.from_dict(values["clip"])
        for key in ("image_mean", "image_std"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def structural_differences(
        self, other: CLIP4STRConfig, ours: str = "config", theirs: str = "checkpoint"
    ) -> list[str]:
        """``"field: config A, checkpoint B"`` for each field whose difference changes the
        weights' meaning (``ours``/``theirs`` name the two sides in the message)."""
        mine, other = self._square_patches(), other._square_patches()
        return [
            f"{name}: {ours} {getattr(mine, name)!r}, {theirs} {getattr(other, name)!r}"
            for name in STRUCTURAL_FIELDS
            if getattr(mine, name) != getattr(other, name)
        ]

    def _square_patches(self) -> CLIP4STRConfig:
        # A square patch may be written 16 or (16, 16).
        return replace(self, clip=replace(self.clip, patch_size=self.clip.patch_hw))
