"""Training starts from an open_clip CLIP: name plus pretrained tag or local weights file."""

import json

import open_clip
import pytest
import torch

from recognizer import CLIP4STR, CheckpointError

TINY = {
    "embed_dim": 64,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 2},
}


@pytest.fixture(scope="module")
def tiny_clip_name(tmp_path_factory):
    config = tmp_path_factory.mktemp("open_clip") / "TinyCLIP-test.json"
    config.write_text(json.dumps(TINY))
    open_clip.add_model_config(config)
    return "TinyCLIP-test"


def test_from_clip_loads_local_clip_weights_into_the_image_and_text_towers(
    tiny_clip_name, reference, tmp_path
):
    clip_weights = {
        k[len("clip_model.") :]: v
        for k, v in reference["checkpoint"]["state_dict"].items()
        if k.startswith("clip_model.")
    }
    weights_file = tmp_path / "tiny_clip.bin"
    torch.save(clip_weights, weights_file)

    model = CLIP4STR.from_clip(tiny_clip_name, pretrained=str(weights_file), max_label_length=25)
    state = model.clip_model.state_dict()
    for key, value in clip_weights.items():
        assert torch.equal(state[key], value), key
    assert model.config.clip.embed_dim == 64 and model.config.clip.text_heads == 1
    with torch.inference_mode():
        assert model(reference["images"][:2], refine_iters=1).shape[0] == 2


def test_from_clip_without_weights_builds_a_random_recognizer(tiny_clip_name):
    model = CLIP4STR.from_clip(tiny_clip_name, pretrained=None, charset="abc", max_label_length=8)
    assert model.visual_decoder.head.out_features == 4
    assert model.visual_decoder.pos_queries.shape[1] == 9


def test_from_clip_with_an_unknown_pretrained_tag_explains_the_offline_option(tiny_clip_name):
    with pytest.raises(CheckpointError, match="pass the weights file's path"):
        CLIP4STR.from_clip(tiny_clip_name, pretrained="no-such-tag")
