"""The recognizer decodes exactly like the official CLIP4STR implementation.

The fixture holds the official code's outputs on real word crops for a tiny random model in
the released checkpoint layout; every variant and refinement count must match. The official
batch decoding is ``batch_independent = False``; the default decodes each crop as the
official code decodes it alone, whatever its batch.
"""

import pytest
import torch
from conftest import released_layout_checkpoint

from recognizer import CLIP4STR

LOGIT_TOLERANCE = 1e-4
VARIANTS = ["random", "early_eos"]
REFINE_ITERS = [0, 1, 2]


@pytest.fixture(scope="module")
def models(reference, tmp_path_factory):
    loaded = {}
    for variant in VARIANTS:
        path = tmp_path_factory.mktemp(variant) / f"{variant}.ckpt"
        torch.save(released_layout_checkpoint(reference, variant), path)
        loaded[variant] = CLIP4STR.from_checkpoint(path)
        loaded[variant].batch_independent = False  # the official batch decoding
    return loaded


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("refine_iters", REFINE_ITERS)
def test_logits_and_texts_match_official_from_preprocessed_images(
    models, reference, variant, refine_iters
):
    expected = reference["variants"][variant]["outputs"][f"refine_iters={refine_iters}"]
    model = models[variant]
    with torch.inference_mode():
        logits = model(reference["images"], refine_iters=refine_iters)
    assert logits.shape == expected["logits"].shape
    assert (logits - expected["logits"]).abs().max().item() < LOGIT_TOLERANCE
    assert model.tokenizer.decode_texts(logits) == expected["texts"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("refine_iters", REFINE_ITERS)
def test_read_on_raw_crops_matches_official(
    models, reference, reference_crops, variant, refine_iters
):
    expected = reference["variants"][variant]["outputs"][f"refine_iters={refine_iters}"]
    readings = models[variant].read(reference_crops, refine_iters=refine_iters)
    assert [r.text for r in readings] == expected["texts"]
    for reading, confidences in zip(readings, expected["confidences"]):
        assert reading.char_confidences == pytest.approx(confidences, abs=1e-5)
        assert reading.confidence == pytest.approx(
            torch.tensor(confidences).prod().item(), rel=1e-4
        )


def test_preprocessing_reproduces_the_reference_tensor(models, reference, reference_crops):
    batch = models["random"].preprocess(reference_crops)
    assert (batch - reference["images"]).abs().max().item() < 1e-6


def test_early_eos_variant_really_stops_early(reference):
    # Guards the fixture's purpose: the early-stop path is exercised.
    outputs = reference["variants"]["early_eos"]["outputs"]
    assert outputs["refine_iters=0"]["logits"].shape[1] < 26


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("refine_iters", REFINE_ITERS)
def test_by_default_each_crop_reads_as_the_official_code_reads_it_alone(
    reference, reference_crops, variant, refine_iters, tmp_path
):
    torch.save(released_layout_checkpoint(reference, variant), tmp_path / "model.ckpt")
    official = CLIP4STR.from_checkpoint(tmp_path / "model.ckpt")
    official.batch_independent = False
    model = CLIP4STR.from_checkpoint(tmp_path / "model.ckpt")
    assert model.batch_independent
    alone = [official.read([crop], refine_iters=refine_iters)[0] for crop in reference_crops]
    for batch_size in (8, 3):
        together = model.read(reference_crops, refine_iters=refine_iters, batch_size=batch_size)
        assert [r.text for r in together] == [r.text for r in alone]
        for a, b in zip(together, alone):
            # An item that ran out of positions alone ends here with a certain [E] (1.0).
            characters = len(a.text)
            assert a.char_confidences[:characters] == pytest.approx(
                b.char_confidences[:characters], abs=1e-5
            )
            assert a.confidence == pytest.approx(b.confidence, rel=1e-4)


def test_the_official_batch_decoding_does_depend_on_the_batch(reference, reference_crops, models):
    # What the default avoids: in the fixture's early-stopping model, a crop read in the
    # batch of eight reads differently alone.
    official = models["early_eos"]
    together = official.read(reference_crops, refine_iters=1)
    alone = [official.read([crop], refine_iters=1)[0] for crop in reference_crops]
    assert [(r.text, r.char_confidences) for r in together] != [
        (r.text, r.char_confidences) for r in alone
    ]
