"""The released B/16, L/14 and H/14 architectures are recognized from tensor shapes alone."""

import numpy as np
import pytest
import torch

from recognizer import CLIP4STR, CLIP4STRConfig
from recognizer.clip_backbone import VIT_B16, VIT_H14, VIT_L14, infer_architecture


def _released_style_file(arch, path):
    torch.manual_seed(0)
    model = CLIP4STR(CLIP4STRConfig(clip=arch))
    hparams = {"img_size": [224, 224], "dec_num_heads": 8, "max_label_length": 25}
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": hparams}, path)
    del model


@pytest.mark.slow
@pytest.mark.parametrize("arch", [VIT_B16, VIT_L14], ids=["B16", "L14"])
def test_released_architecture_builds_from_shapes_and_reads(arch, tmp_path, reference_crops):
    path = tmp_path / "released.ckpt"
    _released_style_file(arch, path)
    model = CLIP4STR.from_checkpoint(path)
    path.unlink()
    assert model.config.clip == arch
    crops = [*reference_crops[:2], np.full((40, 120), 200, dtype=np.uint8)]
    readings = model.read(crops, batch_size=4)
    assert len(readings) == 3
    for reading in readings:
        assert 0.0 <= reading.confidence <= 1.0
        assert len(reading.char_confidences) in (len(reading.text), len(reading.text) + 1)


def test_huge_architecture_is_inferred_with_its_80_wide_heads():
    # Shapes only: meta tensors cost no memory.
    model = torch.device("meta")
    with model:
        clip = CLIP4STR(CLIP4STRConfig(clip=VIT_H14)).clip_model
    assert infer_architecture(clip.state_dict()) == VIT_H14
    assert clip.visual.transformer.resblocks[0].attn.num_heads == 16
