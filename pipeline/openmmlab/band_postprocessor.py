"""MMOCR's DB post-processing with curved text kept curved.

``DBBandPostprocessor`` is MMOCR's ``DBPostprocessor`` (same thresholds, same outlines) with
one change in what each region becomes (``pipeline.curves.band_polygon``): a straight region
is the minimum-area quadrilateral that ``text_repr_type='quad'`` gives, so straight text is
found exactly as before; a bent one is a polygon that follows it, its top boundary and then
its bottom boundary back. Any DB-family config can use it::

    custom_imports = dict(imports=["pipeline.openmmlab.band_postprocessor"])
    model = dict(det_head=dict(postprocessor=dict(type="DBBandPostprocessor")))
"""

from __future__ import annotations

import numpy as np

from ..curves import band_polygon
from .compat import apply_openmmlab_workarounds

apply_openmmlab_workarounds()  # before the first OpenMMLab import

import torch  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402
from mmocr.models.textdet.postprocessors import DBPostprocessor  # noqa: E402
from mmocr.registry import MODELS  # noqa: E402
from mmocr.structures import TextDetDataSample  # noqa: E402


@MODELS.register_module()
class DBBandPostprocessor(DBPostprocessor):
    """``DBPostprocessor`` whose regions are quadrilaterals when straight and curved polygons
    (2K points) when bent. ``text_repr_type`` is accepted for configs that inherit it from
    a ``DBPostprocessor`` and ignored: the outlines are always taken whole."""

    def __init__(self, text_repr_type: str = "poly", **kwargs) -> None:
        super().__init__(text_repr_type="poly", **kwargs)

    def get_text_instances(self, prob_map: torch.Tensor, data_sample: TextDetDataSample):
        data_sample = super().get_text_instances(prob_map, data_sample)
        instances = data_sample.pred_instances
        polygons, scores = [], []
        for outline, score in zip(instances.polygons, instances.scores.tolist()):
            shaped = band_polygon(np.asarray(outline).reshape(-1, 2), self.min_text_width)
            if shaped is not None:
                polygons.append(shaped.reshape(-1))
                scores.append(score)
        data_sample.pred_instances = InstanceData(
            polygons=polygons, scores=torch.tensor(scores, dtype=torch.float32)
        )
        return data_sample
