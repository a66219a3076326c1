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
    original = CLIP4STR.decode_logits

    def counting_decode(self, images, *args, **kwargs):
        calls.append(images.shape[0])
        return original(self, images, *args, **kwargs)

    monkeypatch.setattr(CLIP4STR, "decode_logits", counting_decode)
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


def test_incremental_steps_equal_the_full_causal_pass_for_a_deep_decoder():
    from recognizer.decoding import causal_mask
    from recognizer.modules import CharDecoder

    torch.manual_seed(0)
    decoder = CharDecoder(64, 4, 3, 4.0, vocab_size=97, num_classes=95, max_positions=8).eval()
    memory = torch.randn(5, 11, 64)
    context = torch.randint(1, 95, (5, 8))
    context[:, 0] = 95
    with torch.inference_mode():
        mask = causal_mask(8)
        full = decoder(context, memory, slice(0, 8), mask, mask)
        memory_kv = decoder.memory_kv(memory)
        keys, values = decoder.empty_context_kv(5)
        steps = []
        for index in range(8):
            logits, keys, values = decoder.step(context[:, index], index, keys, values, *memory_kv)
            steps.append(logits)
    assert len(keys) == len(values) == 3
    assert keys[0].shape == (5, 4, 16, 8) and values[0].shape == (5, 4, 8, 16)
    assert (torch.stack(steps, 1) - full).abs().max().item() < 1e-5


def test_cross_branch_early_exit_saves_steps_without_changing_the_output(reference, tmp_path):
    from conftest import released_layout_checkpoint

    # The visual branch reads all 26 positions; the cross branch predicts [E] at once.
    checkpoint = released_layout_checkpoint(reference)
    bias = checkpoint["state_dict"]["cross_decoder.head.bias"].clone()
    bias[0] += 100.0
    checkpoint["state_dict"]["cross_decoder.head.bias"] = bias
    torch.save(checkpoint, tmp_path / "early.ckpt")
    model = CLIP4STR.from_checkpoint(tmp_path / "early.ckpt")
    images = reference["images"]
    counts = {}
    outputs = {}
    for early in (False, True):
        decoding = model.decoding(cross_early_exit=early)
        calls = []
        original = decoding.backend.step

        def counting_step(branch, *args, calls=calls, original=original):
            calls.append(branch)
            return original(branch, *args)

        decoding.backend.step = counting_step
        with torch.inference_mode():
            outputs[early] = decoding(images, refine_iters=1)
        counts[early] = calls.count("cross")
    assert (counts[True], counts[False]) == (1, 26)
    assert (outputs[True] - outputs[False]).abs().max().item() < 1e-5
    assert model.tokenizer.decode_texts(outputs[True]) == model.tokenizer.decode_texts(
        outputs[False]
    )


def test_bf16_autocast_reads_real_crops_like_fp32():
    from conftest import SHARED

    import recognizer

    data = SHARED / "data" / "iiit5k_test"
    rows = (data / "labels.tsv").read_text().splitlines()[:16]
    crops = [data / row.split("\t")[0] for row in rows]
    model = recognizer.load("default", precision="bf16")
    fast = model.read(crops)
    exact = model.read(crops, precision="fp32")
    same = sum(a.text == b.text for a, b in zip(fast, exact))
    assert same >= 14, [(a.text, b.text) for a, b in zip(fast, exact)]
    assert all(0.0 <= r.confidence <= 1.0 for r in fast)


def test_unknown_precision_is_rejected(model, reference_crops):
    import recognizer

    with pytest.raises(ValueError, match="precision"):
        model.read(reference_crops[:1], precision="int4")
    with pytest.raises(ValueError, match="fp32 on the CPU"):
        recognizer.load("default", backend="onnx", precision="bf16")
