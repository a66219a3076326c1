"""A pre-trained text-line image encoder under CLIP4STR's decoders.

An image tower (architecture preset ``TEXTLINE_SMALL``) made of the feature extractor of
PaddleOCR's PP-OCRv6 small text-line recognizer (Apache-2.0), whose ONNX file ships in the
``rapidocr`` wheel that the default detector comes from. It was trained on far more real
text than exists offline: a convolutional backbone (a stem, then depthwise-separable blocks
with squeeze-excitation that bring a 48-pixel-high line down to one row) and a two-block
transformer neck, giving one 120-wide feature per 8 pixels of width.

``TextLineEncoder`` is that network written with PyTorch layers; ``load_onnx_weights`` fills
it from the ONNX file (``python -m recognizer.training --image-tower textline`` does this
when a model is first built; afterwards the weights travel in the model's own files, so a
saved model does not depend on the rapidocr release installed).
``TextLineTower`` puts it under the decoders: the features are projected to the decoders'
width, given learned positions and seen by a few transformer blocks, like a ViT tower's
output tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .rapidocr_models import find_rapidocr_model

MODEL_FILE = "PP-OCRv6_rec_small.onnx"
FEATURE_WIDTH = 120
# Input height the network was trained at; the width is free (a feature per 8 pixels).
INPUT_HEIGHT = 48
WIDTH_STRIDE = 8
# The last tensor before the ONNX model's character classifier.
FEATURE_OUTPUT = "p2o.pd_op.transpose.8.0"


def _pad_right_bottom(x: torch.Tensor) -> torch.Tensor:
    # The "same" padding of a stride-1 2x2 window: one row and one column after the input.
    return F.pad(x, (0, 1, 0, 1))


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels // 4, 1)
        self.expand = nn.Conv2d(channels // 4, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean(dim=(2, 3), keepdim=True)
        scale = F.hardsigmoid(self.expand(F.relu(self.reduce(scale))))
        return x * scale


class SeparableBlock(nn.Module):
    """A depthwise 3x3 convolution (optionally squeeze-excited), then a pointwise MLP added
    to its output when the width stays the same."""

    def __init__(self, channels: int, hidden: int, out: int, stride=(1, 1), excite=False):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, stride, 1, groups=channels)
        self.excite = SqueezeExcite(channels) if excite else nn.Identity()
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.project = nn.Conv2d(hidden, out, 1)
        self.residual = out == channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.excite(self.depthwise(x))
        y = self.project(F.gelu(self.expand(x)))
        return x + y if self.residual else y


class NeckBlock(nn.Module):
    """A pre-norm transformer block: 8 heads of 15, a swish MLP of twice the width."""

    def __init__(self, width: int = FEATURE_WIDTH, heads: int = 8):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, eps=1e-5)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, eps=1e-5)
        self.fc1 = nn.Linear(width, 2 * width)
        self.fc2 = nn.Linear(2 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, c // self.heads).unbind(2)
        attended = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        x = x + self.proj(attended.transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(F.silu(self.fc1(self.norm2(x))))


def _conv_bn(cin: int, cout: int, kernel, padding=0, groups: int = 1) -> nn.Conv2d:
    # Convolution and batch norm of the original, folded into one convolution at loading.
    return nn.Conv2d(cin, cout, kernel, padding=padding, groups=groups)


class TextLineEncoder(nn.Module):
    """PP-OCRv6 small's feature extractor: ``(B, 3, 48, W)`` RGB normalized to [-1, 1] ->
    ``(B, W // 8, 120)``."""

    BLOCKS = (
        (96, 192, 96, (1, 1), True),
        (96, 192, 96, (1, 1), False),
        (96, 192, 96, (1, 1), False),
        (96, 192, 192, (2, 1), False),
        (192, 384, 192, (1, 1), True),
        (192, 384, 192, (1, 1), False),
        (192, 384, 192, (1, 1), True),
        (192, 384, 192, (1, 1), False),
        (192, 384, 192, (1, 1), True),
        (192, 384, 192, (1, 1), False),
        (192, 384, 384, (2, 1), False),
        (384, 768, 384, (1, 1), True),
        (384, 768, 384, (1, 1), False),
    )

    def __init__(self):
        super().__init__()
        self.stem1 = nn.Conv2d(3, 48, 3, 2, 1)
        self.stem2a = nn.Conv2d(48, 24, 2)
        self.stem2b = nn.Conv2d(24, 48, 2)
        self.stem3 = nn.Conv2d(96, 48, 3, 2, 1)
        self.stem4 = nn.Conv2d(48, 96, 1)
        self.blocks = nn.Sequential(*(SeparableBlock(*spec) for spec in self.BLOCKS))
        self.shortcut = _conv_bn(384, FEATURE_WIDTH, 1)
        self.reduce = _conv_bn(384, FEATURE_WIDTH, 1)
        self.mix = _conv_bn(FEATURE_WIDTH, FEATURE_WIDTH, (1, 7), (0, 3), FEATURE_WIDTH)
        self.neck = nn.Sequential(NeckBlock(), NeckBlock())
        self.norm = nn.LayerNorm(FEATURE_WIDTH, eps=1e-6)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # Channels-last: oneDNN's depthwise and pointwise convolutions run about 1.5x faster
        # on CPUs in this layout than in NCHW (the same convolutions, summed in another order).
        x = F.relu(self.stem1(images.contiguous(memory_format=torch.channels_last)))
        branch = F.relu(self.stem2b(_pad_right_bottom(F.relu(self.stem2a(_pad_right_bottom(x))))))
        # After a ReLU, zero padding is the same as padding a max pool with minus infinity.
        pooled = F.max_pool2d(_pad_right_bottom(x), 2, 1)
        x = F.relu(self.stem3(torch.cat([pooled, branch], dim=1)))
        x = self.blocks(F.relu(self.stem4(x)))
        x = F.avg_pool2d(x, (1, 2)).mean(dim=2, keepdim=True)  # one row, half the width
        shortcut = F.silu(self.shortcut(x)).flatten(2).transpose(1, 2)
        reduced = F.silu(self.reduce(x))
        tokens = (reduced + F.silu(self.mix(reduced))).flatten(2).transpose(1, 2)
        return self.norm(self.neck(tokens)) + shortcut


# ----------------------------------------------------------------------------- ONNX weights


def _onnx_weights(path: Path) -> list[np.ndarray]:
    """The float tensors of the ONNX graph up to the features, in the order nodes use them."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    initializers = {t.name: t for t in model.graph.initializer}
    if not any(FEATURE_OUTPUT in node.output for node in model.graph.node):
        raise ValueError(
            f"{path} does not hold PP-OCRv6 small's recognizer (no {FEATURE_OUTPUT} in it)"
        )
    seen, ordered = set(), []
    for node in model.graph.node:
        if FEATURE_OUTPUT in node.input:
            break  # the character classifier starts here
        for name in node.input:
            tensor = initializers.get(name)
            if tensor is None or name in seen:
                continue
            array = numpy_helper.to_array(tensor)
            if array.dtype == np.float32 and array.size > 1:
                seen.add(name)
                ordered.append(array)
    return ordered


def _folded(conv_weight: np.ndarray, bn: list[np.ndarray], eps: float = 1e-5):
    scale, shift, mean, var = bn
    factor = scale / np.sqrt(var + eps)
    return conv_weight * factor[:, None, None, None], shift - mean * factor


@torch.no_grad()
def load_onnx_weights(encoder: TextLineEncoder, path: str | Path | None = None) -> Path:
    """Fill ``encoder`` from PP-OCRv6 small's ONNX file (by default the one in ``rapidocr``).

    The first convolution's input channels are reversed: the original reads BGR."""
    path = Path(path) if path else find_rapidocr_model(MODEL_FILE, "The default recognizer")
    tensors = iter(_onnx_weights(path))

    def take(shape) -> np.ndarray:
        array = next(tensors, None)
        if array is None or array.size != int(np.prod(shape)):
            raise ValueError(
                f"{path} does not hold PP-OCRv6 small's recognizer: "
                f"{'no tensor' if array is None else list(array.shape)} where a tensor of "
                f"shape {list(shape)} was expected"
            )
        return array.reshape(shape)

    def fill(param: torch.Tensor, array: np.ndarray) -> None:
        param.copy_(torch.from_numpy(np.array(array, dtype=np.float32)))

    def plain(layer: nn.Module) -> None:  # a convolution or layer norm: weight, then bias
        fill(layer.weight, take(layer.weight.shape))
        fill(layer.bias, take(layer.bias.shape))

    def conv_bn(layer: nn.Conv2d) -> None:
        weight = take(layer.weight.shape)
        bn = [take(layer.bias.shape) for _ in range(4)]
        weight, bias = _folded(weight, bn)
        fill(layer.weight, weight)
        fill(layer.bias, bias)

    def linear(layer: nn.Linear) -> None:
        fill(layer.weight, take(layer.weight.shape[::-1]).T)
        fill(layer.bias, take(layer.bias.shape))

    e = encoder
    for layer in (e.stem1, e.stem2a, e.stem2b, e.stem3, e.stem4):
        plain(layer)
    e.stem1.weight.copy_(e.stem1.weight.flip(1))  # BGR -> RGB
    for block in e.blocks:
        plain(block.depthwise)
        if isinstance(block.excite, SqueezeExcite):
            plain(block.excite.reduce)
            plain(block.excite.expand)
        plain(block.expand)
        plain(block.project)
    for layer in (e.shortcut, e.reduce, e.mix):
        conv_bn(layer)
    for block in e.neck:
        plain(block.norm1)
        linear(block.qkv)
        linear(block.proj)
        plain(block.norm2)
        linear(block.fc1)
        linear(block.fc2)
    plain(e.norm)
    left = sum(1 for _ in tensors)
    if left:
        raise ValueError(f"{path}: {left} tensors left over; not PP-OCRv6 small's recognizer")
    return path


class TextLineTower(nn.Module):
    """The image tower of a CLIP4STR on ``TextLineEncoder``: ``(B, 3, 48, W)`` ->
    ``(B, W // 8, embed_dim)`` tokens for the decoders.

    The encoder's features are projected to the decoders' width and given learned positions;
    ``layers`` transformer blocks (CLIP's, QuickGELU) then let every token see the whole
    line, as a ViT tower's tokens do: the encoder was trained for CTC, which reads each
    column for itself, while the decoders look for the n-th character of the word.
    """

    def __init__(
        self,
        embed_dim: int,
        image_size: tuple[int, int],
        layers: int = 0,
        heads: int = 1,
        mlp_ratio: float = 4.0,
    ):
        super().__init__()
        from open_clip.transformer import QuickGELU, Transformer

        height, width = image_size
        if height != INPUT_HEIGHT or width % WIDTH_STRIDE:
            raise ValueError(
                f"the text-line image tower reads {INPUT_HEIGHT}-pixel-high images whose width "
                f"is a multiple of {WIDTH_STRIDE}, not {height}x{width}"
            )
        self.encoder = TextLineEncoder()
        self.proj = nn.Linear(FEATURE_WIDTH, embed_dim)
        self.positional_embedding = nn.Parameter(torch.zeros(width // WIDTH_STRIDE, embed_dim))
        self.transformer = Transformer(embed_dim, layers, heads, mlp_ratio, act_layer=QuickGELU)
        self.ln_post = nn.LayerNorm(embed_dim)
        nn.init.normal_(self.positional_embedding, std=0.02)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(self.encoder(images)) + self.positional_embedding
        return self.ln_post(self.transformer(tokens))
