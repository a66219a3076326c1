"""The CLIP part of CLIP4STR: an open_clip ``CLIP`` model used as image and text encoder.

CLIP4STR reads *every* output token of both towers (not only the pooled one), so the two
encoders below run open_clip's submodules directly instead of ``encode_image``/``encode_text``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
from torch import nn

from .textline_encoder import TextLineTower

# Vision towers whose attention heads are not 64 wide (open_clip's ViT-H, ViT-g, ViT-bigG).
_VISION_HEAD_WIDTH = {1280: 80, 1408: 88, 1664: 104}


@dataclass(frozen=True)
class ClipArchitecture:
    """Shape of a CLIP model, enough to rebuild it without its weights."""

    embed_dim: int
    image_size: tuple[int, int]
    # Pixels per token, (height, width) or one number for square patches.
    patch_size: int | tuple[int, int]
    vision_width: int
    vision_layers: int
    vision_heads: int
    vision_mlp_ratio: float
    text_width: int
    text_layers: int
    text_heads: int
    text_mlp_ratio: float
    context_length: int = 77
    vocab_size: int = 49408
    # "patch": CLIP's linear patch embedding; "conv": a small convolutional stem (see ConvStem).
    stem: str = "patch"
    # "vit": open_clip's VisionTransformer; "textline": PP-OCRv6 small's pre-trained
    # text-line encoder (recognizer.textline_encoder) under vision_layers transformer blocks
    # (vision_width must then equal embed_dim).
    image_tower: str = "vit"

    @property
    def patch_hw(self) -> tuple[int, int]:
        p = self.patch_size
        return (p, p) if isinstance(p, int) else (int(p[0]), int(p[1]))

    @property
    def grid_size(self) -> tuple[int, int]:
        (ph, pw), (h, w) = self.patch_hw, self.image_size
        return (h // ph, w // pw)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping) -> ClipArchitecture:
        values = dict(values)
        values["image_size"] = tuple(values["image_size"])
        if isinstance(values["patch_size"], list):
            values["patch_size"] = tuple(values["patch_size"])
        return cls(**values)


# Architectures of the released CLIP4STR models (OpenAI / OpenCLIP ViT shapes).
VIT_B16 = ClipArchitecture(512, (224, 224), 16, 768, 12, 12, 4.0, 512, 12, 8, 4.0)
VIT_L14 = ClipArchitecture(768, (224, 224), 14, 1024, 24, 16, 4.0, 768, 12, 12, 4.0)
VIT_H14 = ClipArchitecture(1024, (224, 224), 14, 1280, 32, 16, 4.0, 1024, 24, 16, 4.0)

# The small recognizer trained from scratch and shipped with the package: 32x128 input, a
# convolutional stem down to a 4x32 token grid, 6 blocks of width 192 (trained with 4, then
# grown by 2: see its model card), a 2-block text tower.
SMALL_CONV = ClipArchitecture(
    embed_dim=192,
    image_size=(32, 128),
    patch_size=(8, 4),
    vision_width=192,
    vision_layers=6,
    vision_heads=3,
    vision_mlp_ratio=4.0,
    text_width=128,
    text_layers=2,
    text_heads=2,
    text_mlp_ratio=4.0,
    context_length=16,
    stem="conv",
)


# CLIP4STR on PP-OCRv6 small's pre-trained text-line encoder (48x128 input ->
# 16 features of 120, one per 8 pixels of width), projected to width 192, two transformer
# blocks over the line (6 heads), then SMALL_CONV's text tower and decoders.
TEXTLINE_SMALL = replace(
    SMALL_CONV,
    image_size=(48, 128),
    patch_size=(48, 8),
    vision_layers=2,
    vision_heads=6,
    stem="patch",
    image_tower="textline",
)


# Names a configuration may use for an architecture (``architecture="VIT_B16"``).
PRESETS = {
    "VIT_B16": VIT_B16,
    "VIT_L14": VIT_L14,
    "VIT_H14": VIT_H14,
    "SMALL_CONV": SMALL_CONV,
    "TEXTLINE_SMALL": TEXTLINE_SMALL,
}


def architecture_from_spec(spec: str | Mapping) -> ClipArchitecture:
    """A CLIP shape from a preset name, ``dict(preset=..., **overrides)`` or every field."""
    fields = {"preset": spec} if isinstance(spec, str) else dict(spec)
    preset = fields.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(
                f"unknown architecture preset {preset!r}; choose one of {', '.join(PRESETS)} "
                "or give every ClipArchitecture field"
            )
        fields = {**PRESETS[preset].to_dict(), **fields}
    try:
        return ClipArchitecture.from_dict(fields)
    except (TypeError, KeyError) as error:
        raise ValueError(f"architecture {spec!r}: {error}") from None


def build_clip(arch: ClipArchitecture) -> CLIP:
    """An open_clip CLIP of this shape with QuickGELU everywhere, as CLIP4STR was trained."""
    vision = CLIPVisionCfg(
        layers=arch.vision_layers,
        width=arch.vision_width,
        head_width=arch.vision_width // arch.vision_heads,
        mlp_ratio=arch.vision_mlp_ratio,
        patch_size=arch.patch_size,
        image_size=arch.image_size,
    )
    text = CLIPTextCfg(
        context_length=arch.context_length,
        vocab_size=arch.vocab_size,
        width=arch.text_width,
        heads=arch.text_heads,
        layers=arch.text_layers,
        mlp_ratio=arch.text_mlp_ratio,
    )
    clip = CLIP(arch.embed_dim, vision, text, quick_gelu=True)
    if arch.image_tower == "textline":
        if arch.vision_width != arch.embed_dim:
            raise ValueError(
                f"the text-line tower's blocks are as wide as the decoders: vision_width "
                f"{arch.vision_width} must equal embed_dim {arch.embed_dim}"
            )
        clip.visual = TextLineTower(
            arch.embed_dim,
            arch.image_size,
            arch.vision_layers,
            arch.vision_heads,
            arch.vision_mlp_ratio,
        )
    elif arch.image_tower != "vit":
        raise ValueError(f"unknown image tower {arch.image_tower!r}: use 'vit' or 'textline'")
    elif arch.stem == "conv":
        clip.visual.conv1 = ConvStem(arch.vision_width, arch.patch_hw)
    elif arch.stem != "patch":
        raise ValueError(f"unknown image stem {arch.stem!r}: use 'patch' or 'conv'")
    return clip


class ConvStem(nn.Sequential):
    """Stacked stride-2 3x3 convolutions in place of the patch embedding.

    A ViT trained from scratch on little data leaves its early plateau much sooner with a
    convolutional stem (Xiao et al., "Early Convolutions Help Transformers See Better").
    Each layer halves height and/or width until the token grid of ``patch`` is reached.
    """

    def __init__(self, width: int, patch: tuple[int, int]):
        steps_h, steps_w = _log2(patch[0]), _log2(patch[1])
        depth = max(steps_h, steps_w, 1)
        channels = [3] + [max(width >> (depth - 1 - i), 16) for i in range(depth)]
        layers: list[nn.Module] = []
        for i in range(depth):
            stride = (2 if i < steps_h else 1, 2 if i < steps_w else 1)
            last = i == depth - 1
            layers.append(
                nn.Conv2d(channels[i], channels[i + 1], 3, stride=stride, padding=1, bias=last)
            )
            if not last:
                layers += [nn.BatchNorm2d(channels[i + 1]), nn.ReLU(inplace=True)]
        super().__init__(*layers)


def _log2(n: int) -> int:
    if n < 1 or n & (n - 1):
        raise ValueError(f"a convolutional stem needs power-of-two patch sides, not {n}")
    return n.bit_length() - 1


def count_blocks(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    indices = {int(m.group(1)) for key in state if (m := pattern.match(key))}
    return max(indices) + 1 if indices else 0


def infer_architecture(state: Mapping[str, torch.Tensor]) -> ClipArchitecture:
    """Read a CLIP's shape off its tensors (OpenAI layout, keys without a ``clip_model.`` prefix).

    Raises ``KeyError`` naming the first missing tensor.
    """
    conv = state["visual.conv1.weight"]
    vision_width, _, patch, _ = conv.shape
    grid_tokens = state["visual.positional_embedding"].shape[0] - 1
    image_size = _image_size(grid_tokens, patch)
    text_width = state["ln_final.weight"].shape[0]
    vision_heads = vision_width // _VISION_HEAD_WIDTH.get(vision_width, 64)
    vision_mlp = state["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0]
    text_mlp = state["transformer.resblocks.0.mlp.c_fc.weight"].shape[0]
    return ClipArchitecture(
        embed_dim=state["visual.proj"].shape[1],
        image_size=image_size,
        patch_size=patch,
        vision_width=vision_width,
        vision_layers=count_blocks(state, "visual.transformer.resblocks."),
        vision_heads=max(vision_heads, 1),
        vision_mlp_ratio=vision_mlp / vision_width,
        text_width=text_width,
        text_layers=count_blocks(state, "transformer.resblocks."),
        text_heads=max(text_width // 64, 1),
        text_mlp_ratio=text_mlp / text_width,
        context_length=state["positional_embedding"].shape[0],
        vocab_size=state["token_embedding.weight"].shape[0],
    )


def _image_size(grid_tokens: int, patch: int) -> tuple[int, int]:
    side = round(grid_tokens**0.5)
    if side * side != grid_tokens:
        raise ValueError(
            f"cannot infer a square image size from {grid_tokens} patch positions; "
            "give the image size in the checkpoint's hyper-parameters (img_size)"
        )
    return (side * patch, side * patch)


def encode_image_tokens(clip: CLIP, images: torch.Tensor) -> torch.Tensor:
    """All visual tokens (class + patches) after ``ln_post``, projected: ``(B, 1 + N, embed)``
    (``(B, N, embed)`` for the text-line tower, which has no class token)."""
    visual = clip.visual
    if isinstance(visual, TextLineTower):
        return visual(images)
    x = visual.conv1(images)
    x = x.flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
    x = visual.ln_pre(x)
    x = visual.transformer(x)
    return visual.ln_post(x) @ visual.proj


def encode_text_tokens(clip: CLIP, tokens: torch.Tensor) -> torch.Tensor:
    """All text tokens after ``ln_final``, projected: ``(B, L, embed)`` with a causal mask."""
    length = tokens.shape[1]
    x = clip.token_embedding(tokens) + clip.positional_embedding[:length]
    x = clip.transformer(x, attn_mask=clip.attn_mask[:length, :length])
    return clip.ln_final(x) @ clip.text_projection
