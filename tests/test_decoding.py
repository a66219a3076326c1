"""Decoding modes and batching behave as users of ``forward`` and ``read`` expect."""

import pytest
import torch

from recognizer import CLIP4STR


@pytest.fixture(scope="module")
def model(reference, tmp_path_factory):
    from conftest import released_layout_checkpoint

    path = tmp_path_factory.mktemp("decoding") / "tiny.ckpt"
    torch.save(released_layout_checkpoint(reference), path)
    return CLIP4STR.from_checkpoint(path)


def test_forward_returns_cross_modal_logits_of_the_released_shape(model, reference):
    with torch.inference_mode():
        logits = model(reference["images"][:3])
    assert logits.shape == (3, 26, 95)


def test_non_autoregressive_decoding_predicts_all_positions_and_refines(model, reference):
    images = reference["images"]
    with torch.inference_mode():
        plain = model(images, refine_iters=0, decode="nar")
        refined = model(images, refine_iters=1, decode="nar")
    assert plain.shape == refined.shape == (8, 26, 95)
    assert torch.isfinite(refined).all()
    assert not torch.allclose(plain, refined), "refinement must change the prediction"


def test_unknown_decode_mode_is_rejected(model, reference):
    with pytest.raises(ValueError, match="'ar' or 'nar'"):
        model(reference["images"][:1], decode="beam")


def test_read_runs_one_forward_per_batch(model, reference_crops, monkeypatch):
    calls = []
    original = CLIP4STR.forward

    def counting_forward(self, images, *args, **kwargs):
        calls.append(images.shape[0])
        return original(self, images, *args, **kwargs)

    monkeypatch.setattr(CLIP4STR, "forward", counting_forward)
    readings = model.read(reference_crops * 2, batch_size=6)
    assert len(readings) == 16
    assert calls == [6, 6, 4]


def test_read_restores_training_mode(model, reference_crops):
    model.train()
    try:
        model.read(reference_crops[:1])
        assert model.training
    finally:
        model.eval()
