"""The ONNX export runs with ONNX Runtime and decodes like the PyTorch module."""

from dataclasses import replace

import pytest
import torch
from conftest import SHARED, released_layout_checkpoint, run_module

import recognizer
from recognizer import CLIP4STR, CLIP4STRConfig
from recognizer.clip_backbone import SMALL_CONV
from recognizer.onnx_backend import OnnxExportError, OnnxRecognizer, export_onnx

VARIANTS = ["random", "early_eos"]


@pytest.fixture(scope="module")
def exported(reference, tmp_path_factory):
    """(torch model, ONNX recognizer) per fixture variant."""
    pairs = {}
    for variant in VARIANTS:
        folder = tmp_path_factory.mktemp(f"onnx-{variant}")
        torch.save(released_layout_checkpoint(reference, variant), folder / "model.ckpt")
        model = CLIP4STR.from_checkpoint(folder / "model.ckpt")
        export_onnx(model, folder / "export")
        runtime = OnnxRecognizer(folder / "export", threads=1)
        model.batch_independent = runtime.batch_independent = False  # the official decoding
        pairs[variant] = model, runtime
    return pairs


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("refine_iters", [0, 1, 2])
def test_onnx_runtime_matches_the_official_outputs(exported, reference, variant, refine_iters):
    expected = reference["variants"][variant]["outputs"][f"refine_iters={refine_iters}"]
    _, runtime = exported[variant]
    logits = runtime(reference["images"], refine_iters=refine_iters)
    assert logits.shape == expected["logits"].shape
    assert (logits - expected["logits"]).abs().max().item() < 1e-4
    assert runtime.tokenizer.decode_texts(logits) == expected["texts"]


def test_parallel_decoding_matches_pytorch(exported, reference):
    model, runtime = exported["random"]
    with torch.inference_mode():
        expected = model(reference["images"], decode="nar")
    logits = runtime(reference["images"], decode="nar")
    assert (logits - expected).abs().max().item() < 1e-4


def test_read_gives_the_words_of_pytorch_at_any_batch_size(exported, reference_crops):
    # Compared at equal batch sizes: this random model's near-ties flip with the batch's
    # arithmetic in PyTorch too.
    model, runtime = exported["random"]
    for batch_size in (1, 3, 8):
        expected = [r.text for r in model.read(reference_crops, batch_size=batch_size)]
        readings = runtime.read(reference_crops, batch_size=batch_size)
        assert [r.text for r in readings] == expected


def test_deeper_decoders_and_another_input_size_export_too(tmp_path):
    torch.manual_seed(0)
    # CLIP's own patch embedding (no conv stem), 32 wide, a 4x16 token grid.
    widths = dict(embed_dim=32, vision_width=32, text_width=32, vision_heads=2, text_heads=2)
    arch = replace(SMALL_CONV, **widths, vision_layers=1, text_layers=1, patch_size=(8, 8))
    arch = replace(arch, stem="patch", context_length=77, vision_mlp_ratio=4.0)
    model = CLIP4STR(CLIP4STRConfig(clip=arch, decoder_depth=2, decoder_heads=4)).eval()
    images = torch.randn(3, 3, 32, 128)
    with torch.inference_mode():
        expected = model(images)
    folder = export_onnx(model, tmp_path / "export")
    logits = OnnxRecognizer(folder, threads=1)(images)
    assert (logits - expected).abs().max().item() < 1e-4


def test_default_model_reads_real_crops_the_same_through_onnx(tmp_path, monkeypatch):
    monkeypatch.setenv("OCR_PIPELINE_HOME", str(tmp_path))
    data = SHARED / "data" / "iiit5k_test"
    rows = (data / "labels.tsv").read_text().splitlines()[:24]
    crops = [data / row.split("\t")[0] for row in rows]
    model = recognizer.load("default")
    runtime = recognizer.load("default", backend="onnx")
    assert isinstance(runtime, OnnxRecognizer)
    expected = model.read(crops)
    readings = runtime.read(crops)
    assert [r.text for r in readings] == [r.text for r in expected]
    for got, want in zip(readings, expected):
        assert got.confidence == pytest.approx(want.confidence, abs=1e-4)

    # The export is cached in the models folder: a second load does not export again.
    def no_export(*args, **kwargs):
        raise AssertionError("exported twice")

    monkeypatch.setattr("recognizer.onnx_backend.export_onnx", no_export)
    again = recognizer.load("default", backend="onnx")
    assert again.directory == runtime.directory
    assert again.directory.parent == tmp_path / "models" / "onnx"


def test_a_folder_that_is_not_an_export_is_named_with_the_fix(tmp_path):
    with pytest.raises(OnnxExportError, match="export-onnx"):
        OnnxRecognizer(tmp_path)


def test_a_missing_graph_file_is_named(exported, tmp_path, reference):
    model, _ = exported["random"]
    folder = export_onnx(model, tmp_path / "export")
    (folder / "cross_step.onnx").unlink()
    with pytest.raises(OnnxExportError, match="cross_step.onnx"):
        OnnxRecognizer(folder)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        recognizer.load("default", backend="tensorrt")


def test_export_and_eval_from_the_command_line(
    tiny_checkpoint, reference, reference_crops, tmp_path
):
    crops = tmp_path / "crops"
    crops.mkdir()
    # Labelled with what the PyTorch model reads: the ONNX export must read the same.
    texts = [r.text for r in CLIP4STR.from_checkpoint(tiny_checkpoint).read(reference_crops)]
    lines = []
    for name, png, text in zip(reference["crop_names"], reference["crops_png"], texts):
        (crops / name).write_bytes(png)
        lines.append(f"{name}\t{text}")
    (crops / "labels.tsv").write_text("\n".join(lines) + "\n")

    out = tmp_path / "export"
    result = run_module("recognizer", "export-onnx", "--checkpoint", tiny_checkpoint, "--out", out)
    assert result.returncode == 0, result.stderr
    assert (out / "onnx.json").is_file() and (out / "image_encoder.onnx").is_file()
    result = run_module(
        "recognizer", "eval", "--backend", "onnx", "--checkpoint", out, "--data", crops
    )
    assert result.returncode == 0, result.stderr
    assert "word accuracy (case-sensitive): 1.0000" in result.stdout


def test_an_export_of_another_format_version_is_refused_with_the_fix(exported, tmp_path):
    import json

    model, _ = exported["random"]
    folder = export_onnx(model, tmp_path / "export")
    manifest = json.loads((folder / "onnx.json").read_text())
    manifest["format_version"] = 1
    (folder / "onnx.json").write_text(json.dumps(manifest))
    with pytest.raises(OnnxExportError, match="export it again"):
        OnnxRecognizer(folder)


def test_int8_image_encoder_reads_real_crops_nearly_like_fp32(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("OCR_PIPELINE_HOME", str(tmp_path))
    data = SHARED / "data" / "iiit5k_test"
    rows = (data / "labels.tsv").read_text().splitlines()[:48]
    crops = [data / row.split("\t")[0] for row in rows]
    exact = [r.text for r in recognizer.load("default").read(crops)]
    runtime = recognizer.load("default", backend="onnx-int8")
    manifest = json.loads((runtime.directory / "onnx.json").read_text())
    assert manifest["int8_image_encoder"] is True
    assert manifest["graphs"]["image_encoder"] == "image_encoder.int8.onnx"
    assert not (runtime.directory / "image_encoder.onnx").exists()
    fast = [r.text for r in runtime.read(crops)]
    assert sum(a == b for a, b in zip(fast, exact)) >= 44, list(zip(fast, exact))
