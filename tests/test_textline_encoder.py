"""The pre-trained text-line image tower: PP-OCRv6 small's encoder rebuilt in PyTorch.

Its features must be those of the ONNX model in the ``rapidocr`` wheel (else the decoders
trained on them read something else), and a model on it must save, load and train like any
CLIP4STR."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import DATA

from recognizer import CLIP4STR, CLIP4STRConfig
from recognizer.clip_backbone import SMALL_CONV, TEXTLINE_SMALL, architecture_from_spec
from recognizer.config import CLIP4STRConfig as Config
from recognizer.images import preprocess_batch
from recognizer.rapidocr_models import find_rapidocr_model
from recognizer.textline_encoder import (
    FEATURE_OUTPUT,
    MODEL_FILE,
    TextLineEncoder,
    TextLineTower,
    load_onnx_weights,
)
from recognizer.training.trainer import on_textline_encoder

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def encoder():
    model = TextLineEncoder().eval()
    load_onnx_weights(model)
    return model


@pytest.fixture(scope="module")
def onnx_features():
    """PP-OCRv6 small cut before its character classifier, run by ONNX Runtime."""
    full = onnx.load(str(find_rapidocr_model(MODEL_FILE, "this test")))
    cut = onnx.utils.Extractor(full).extract_model(["x"], [FEATURE_OUTPUT])
    session = ort.InferenceSession(cut.SerializeToString(), providers=["CPUExecutionProvider"])

    def run(rgb: np.ndarray) -> np.ndarray:
        return session.run(None, {"x": np.ascontiguousarray(rgb[:, ::-1])})[0]  # it reads BGR

    return run


def real_crops(count: int) -> torch.Tensor:
    rows = (DATA / "real_train" / "labels.tsv").read_text().splitlines()[:count]
    paths = [DATA / "real_train" / row.split("\t")[0] for row in rows]
    return preprocess_batch(paths, (48, 128), (0.5,) * 3, (0.5,) * 3)


def test_encoder_gives_the_features_of_the_onnx_model(encoder, onnx_features):
    images = torch.cat([real_crops(5), torch.empty(3, 3, 48, 128).uniform_(-1, 1)])
    with torch.no_grad():
        ours = encoder(images).numpy()
    theirs = onnx_features(images.numpy())
    assert ours.shape == theirs.shape == (8, 16, 120)
    assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()


def test_encoder_takes_any_width_in_steps_of_8(encoder, onnx_features):
    images = torch.empty(2, 3, 48, 200).uniform_(-1, 1)
    with torch.no_grad():
        ours = encoder(images).numpy()
    assert ours.shape == (2, 25, 120)
    assert np.abs(ours - onnx_features(images.numpy())).max() < 1e-3


def test_a_file_that_is_not_that_model_is_refused(tmp_path):
    other = find_rapidocr_model("ch_ppocr_mobile_v2.0_cls_mobile.onnx", "this test")
    with pytest.raises(ValueError, match="PP-OCRv6 small"):
        load_onnx_weights(TextLineEncoder(), other)


def test_missing_rapidocr_model_names_the_file_and_the_fix():
    with pytest.raises(FileNotFoundError, match="reinstall rapidocr"):
        find_rapidocr_model("no-such-model.onnx", "The default recognizer")


def test_tower_refuses_input_sizes_the_encoder_cannot_take():
    with pytest.raises(ValueError, match="48-pixel-high"):
        TextLineTower(192, (32, 128))


def test_preset_round_trips_and_older_configs_read_as_vit():
    config = CLIP4STRConfig(clip=TEXTLINE_SMALL, decoder_heads=6)
    assert Config.from_dict(config.to_dict()) == config
    assert architecture_from_spec("TEXTLINE_SMALL") == TEXTLINE_SMALL
    older = CLIP4STRConfig(clip=SMALL_CONV).to_dict()
    del older["clip"]["image_tower"]
    assert Config.from_dict(older).clip.image_tower == "vit"
    with pytest.raises(ValueError, match="unknown image tower"):
        CLIP4STR(CLIP4STRConfig(clip=replace(TEXTLINE_SMALL, image_tower="resnet")))


def test_model_on_the_tower_saves_and_loads_with_its_encoder_weights(encoder, tmp_path):
    torch.manual_seed(0)
    model = CLIP4STR(CLIP4STRConfig(clip=TEXTLINE_SMALL, decoder_heads=6)).eval()
    model.clip_model.visual.encoder.load_state_dict(encoder.state_dict())
    model.save_pretrained(tmp_path / "m")
    loaded = CLIP4STR.from_checkpoint(tmp_path / "m")
    images = real_crops(3)
    with torch.no_grad():
        assert model.encode_image(images).shape == (3, 16, 192)
        assert torch.allclose(loaded(images), model(images), atol=1e-5)


def test_carrying_a_model_over_keeps_its_text_tower_and_decoders(encoder):
    torch.manual_seed(0)
    small = replace(SMALL_CONV, vision_layers=1, text_layers=1)
    old = CLIP4STR(CLIP4STRConfig(clip=small, decoder_heads=6))
    new, source = on_textline_encoder(old)
    assert source.name == MODEL_FILE
    assert new.config.clip.image_tower == "textline" and new.config.clip.text_layers == 1
    before, after = old.state_dict(), new.state_dict()
    for key, value in after.items():
        if key.startswith("clip_model.visual.encoder."):
            assert torch.equal(value, encoder.state_dict()[key.split("encoder.", 1)[1]])
        elif not key.startswith("clip_model.visual."):
            assert torch.equal(value, before[key]), key
    # Its transformer blocks start as the identity: training begins from the plain projection.
    tower, images = new.clip_model.visual.eval(), real_crops(2)
    with torch.no_grad():
        plain = tower.ln_post(tower.proj(tower.encoder(images)) + tower.positional_embedding)
        assert torch.allclose(tower(images), plain, atol=1e-6)


def test_a_wider_input_gives_one_token_per_8_pixels_and_freezes_only_the_encoder(encoder):
    torch.manual_seed(0)
    small = replace(SMALL_CONV, vision_layers=1, text_layers=1)
    new, _ = on_textline_encoder(CLIP4STR(CLIP4STRConfig(clip=small, decoder_heads=6)), 192)
    assert new.config.image_size == (48, 192)
    images = preprocess_batch(
        [
            DATA / "real_train" / r.split("\t")[0]
            for r in (DATA / "real_train" / "labels.tsv").read_text().splitlines()[:2]
        ],
        (48, 192),
        (0.5,) * 3,
        (0.5,) * 3,
    )
    with torch.no_grad():
        assert new.eval().encode_image(images).shape == (2, 24, 192)
    new.freeze_image_encoder()
    visual = new.clip_model.visual
    assert not any(p.requires_grad for p in visual.encoder.parameters())
    assert all(p.requires_grad for p in visual.transformer.parameters())
    assert visual.proj.weight.requires_grad and visual.positional_embedding.requires_grad
    with pytest.raises(ValueError, match="only a 'textline' image tower"):
        CLIP4STR(CLIP4STRConfig(clip=small, decoder_heads=6)).freeze_image_encoder()
