"""Everything that touches the OpenMMLab stack (MMOCR, mmdet, mmcv, mmengine) lives here.

- ``compat``: the workarounds that keep the unmaintained stack running on current torch,
  numpy and setuptools (the only module in the project that patches third-party code);
- ``recognizer``: CLIP4STR registered as an MMOCR recognizer (``recognizer/configs/``);
- ``ppocr_detector``: PP-OCR's DB model registered as an MMOCR text detector (the default
  detector, ``detector_configs/default.py``);
- ``detector``: ``MMOCRDetector``, the pipeline's detection stage over any MMOCR text
  detection config.

Importing this package loads no OpenMMLab code; its submodules do.
"""

from .compat import (
    MissingCompiledOpError,
    apply_openmmlab_workarounds,
    compiled_mmcv_ops_available,
    trusted_checkpoints,
)

__all__ = [
    "MissingCompiledOpError",
    "apply_openmmlab_workarounds",
    "compiled_mmcv_ops_available",
    "trusted_checkpoints",
]
