"""Synthetic word crops for training the recognizer from scratch.

- :mod:`.fonts`: which installed fonts can draw Latin text (cached scan of /usr/share/fonts).
- :mod:`.words`: labels of many kinds (words, numbers, prices, dates, codes, URLs, ...) with a
  curriculum of text configs.
- :mod:`.render`: one label drawn as a detector-like crop, effects scaled by a difficulty.
- :mod:`.stream`: batches rendered in spawned worker processes, mixed with real crops.

Fonts and word lists come from Debian packages: run
``recognizer/training/synth/install_training_assets.sh``.
"""

from .fonts import FontInfo, discover_fonts, font_families, load_font
from .render import WordRenderer, default_renderer, load_background_photos, render_word
from .stream import RealCropDataset, StreamConfig, SynthStream, light_augment, render_batch
from .words import CHARSET, CURRICULUM, TextConfig, TextSampler, curriculum_config

__all__ = [
    "CHARSET",
    "CURRICULUM",
    "FontInfo",
    "RealCropDataset",
    "StreamConfig",
    "SynthStream",
    "TextConfig",
    "TextSampler",
    "WordRenderer",
    "curriculum_config",
    "default_renderer",
    "discover_fonts",
    "font_families",
    "light_augment",
    "load_background_photos",
    "load_font",
    "render_batch",
    "render_word",
]
