"""Loading released checkpoints, our own format, and refusing bad files with clear errors."""

import collections
from dataclasses import replace

import pytest
import torch
from conftest import released_layout_checkpoint

from recognizer import CLIP4STR, CheckpointError


def _outputs(model, images):
    with torch.inference_mode():
        return model(images, refine_iters=1)


def test_released_layout_infers_shape_and_charset_from_the_file(tiny_checkpoint, reference):
    model = CLIP4STR.from_checkpoint(tiny_checkpoint)
    cfg = model.config
    assert cfg.clip.embed_dim == 64 and cfg.clip.vision_layers == 2 and cfg.clip.patch_size == 16
    assert cfg.clip.text_heads == 1 and cfg.clip.image_size == (224, 224)
    assert cfg.charset == reference["checkpoint"]["hyper_parameters"]["charset_train"]
    assert cfg.max_label_length == 25 and cfg.decoder_heads == 8 and cfg.decoder_depth == 1


def test_save_pretrained_round_trip_gives_identical_outputs(tiny_checkpoint, reference, tmp_path):
    original = CLIP4STR.from_checkpoint(tiny_checkpoint)
    folder = original.save_pretrained(tmp_path / "saved")
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    for source in (folder, folder / "model.safetensors"):
        restored = CLIP4STR.from_checkpoint(source)
        assert restored.config == original.config
        assert torch.equal(
            _outputs(restored, reference["images"]), _outputs(original, reference["images"])
        )


@pytest.mark.parametrize("suffix", [".pt", ".bin"])
def test_bare_state_dict_loads_with_default_settings(reference, tmp_path, suffix):
    path = tmp_path / f"bare{suffix}"
    torch.save(released_layout_checkpoint(reference)["state_dict"], path)
    model = CLIP4STR.from_checkpoint(path)
    model.batch_independent = False  # the official batch decoding the fixture recorded
    expected = reference["variants"]["random"]["outputs"]["refine_iters=1"]
    assert model.tokenizer.decode_texts(_outputs(model, reference["images"])) == expected["texts"]


def test_wrapped_keys_from_training_frameworks_load(reference, tmp_path):
    state = released_layout_checkpoint(reference)["state_dict"]
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    assert isinstance(CLIP4STR.from_checkpoint(path), CLIP4STR)


def test_truncated_file_is_reported_as_truncated(tiny_checkpoint, tmp_path):
    data = tiny_checkpoint.read_bytes()
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        CLIP4STR.from_checkpoint(broken)


def test_empty_and_missing_files_are_named(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        CLIP4STR.from_checkpoint(empty)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        CLIP4STR.from_checkpoint(tmp_path / "absent.pt")


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = tmp_path / "resnet.pth"
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    torch.save(other.state_dict(), path)
    with pytest.raises(CheckpointError, match="not a CLIP4STR checkpoint"):
        CLIP4STR.from_checkpoint(path)


def test_missing_tensors_are_listed(reference, tmp_path):
    checkpoint = released_layout_checkpoint(reference)
    del checkpoint["state_dict"]["cross_decoder.head.bias"]
    path = tmp_path / "incomplete.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"missing \(cross_decoder\.head\.bias\)"):
        CLIP4STR.from_checkpoint(path)


def test_charset_that_does_not_fit_the_heads_is_refused(reference, tmp_path):
    checkpoint = released_layout_checkpoint(reference)
    checkpoint["hyper_parameters"]["charset_train"] = "0123456789"
    path = tmp_path / "charset.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="charset"):
        CLIP4STR.from_checkpoint(path)


class Payload:
    """A pickled object that is not weights-only (it could run code when unpickled)."""


def test_full_pickle_is_refused_unless_trusted(reference, tmp_path):
    checkpoint = released_layout_checkpoint(reference)
    checkpoint["callbacks"] = collections.Counter(), Payload()
    path = tmp_path / "pickled.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="trust_checkpoint=True"):
        CLIP4STR.from_checkpoint(path)
    model = CLIP4STR.from_checkpoint(path, trust_checkpoint=True)
    assert isinstance(model, CLIP4STR)


def test_corrupt_safetensors_is_reported(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(CheckpointError, match="safetensors"):
        CLIP4STR.from_checkpoint(bad)


def test_how_crops_are_fitted_is_saved_with_the_weights(tiny_checkpoint, tmp_path):
    original = CLIP4STR.from_checkpoint(tiny_checkpoint)
    assert original.config.resize == "stretch"  # the released models' preprocessing
    padded = CLIP4STR(replace(original.config, resize="keep_aspect"))
    restored = CLIP4STR.from_checkpoint(padded.save_pretrained(tmp_path / "padded"))
    assert restored.config.resize == "keep_aspect"
    # Weights trained on padded crops do not mean the same under stretched ones.
    assert restored.config.structural_differences(original.config) == [
        "resize: config 'keep_aspect', checkpoint 'stretch'"
    ]
    with pytest.raises(ValueError, match="resize='pad'"):
        replace(original.config, resize="pad")
