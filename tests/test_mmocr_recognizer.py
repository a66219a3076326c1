"""CLIP4STR as an MMOCR recognizer: configs, released weights, inference parity, training.

The tiny random model of the reference fixture stands in for the released weights (same
checkpoint layout, 64-wide CLIP); ``tests/configs/tiny_clip4str.py`` is the B/16 config with
that architecture, so everything here runs through the project's real configs.
"""

import dataclasses
import json
import random
import shutil
import statistics
from pathlib import Path

import pytest
import torch
from conftest import DATA, REPO, released_layout_checkpoint, run_python

from pipeline.openmmlab.compat import apply_openmmlab_workarounds, trusted_checkpoints
from recognizer import CLIP4STR, CheckpointError, CLIP4STRConfig, hub
from recognizer.clip_backbone import SMALL_CONV, TEXTLINE_SMALL, VIT_B16, VIT_H14, VIT_L14
from recognizer.images import preprocess_batch

# The default model's shape: the text-line encoder at 48x192.
DEFAULT_ARCH = dataclasses.replace(TEXTLINE_SMALL, image_size=(48, 192))

apply_openmmlab_workarounds()  # before mmocr / mmdet / mmcv.ops are imported

from mmengine import Config  # noqa: E402
from mmengine.runner import Runner, load_checkpoint  # noqa: E402
from mmocr.apis import MMOCRInferencer  # noqa: E402
from mmocr.registry import MODELS  # noqa: E402

import pipeline.openmmlab.recognizer  # noqa: E402, F401  (registers CLIP4STR with MMOCR)

CONFIGS = REPO / "recognizer" / "configs"
TINY_CONFIG = REPO / "tests" / "configs" / "tiny_clip4str.py"
USER_CONFIG = REPO / "tests" / "configs" / "user_clip4str.py"
REAL_TRAIN = DATA / "real_train"


def real_train_rows(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """``(relative path, label)`` of some real training crops, always the same ones."""
    lines = (REAL_TRAIN / "labels.tsv").read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t")[:2] for line in lines if line]
    return [tuple(row) for row in random.Random(seed).sample(rows, count)]


def resize_scale(pipeline: list) -> tuple:
    (resize,) = [t for t in pipeline if t["type"] in ("Resize", "CLIP4STRResize")]
    return tuple(resize["scale"])


@pytest.fixture(scope="module")
def tiny_released(reference, tmp_path_factory) -> Path:
    """The tiny reference model, saved exactly as the official code saves checkpoints."""
    path = tmp_path_factory.mktemp("released") / "clip4str_tiny.pt"
    torch.save(released_layout_checkpoint(reference), path)
    return path


@pytest.fixture(scope="module")
def crop_files(reference, tmp_path_factory) -> list[str]:
    """The fixture's 8 word crops (PNG) and 8 real training crops (PNG and JPEG), as files."""
    folder = tmp_path_factory.mktemp("crops")
    paths = []
    for name, png in zip(reference["crop_names"], reference["crops_png"]):
        (folder / name).write_bytes(png)
        paths.append(str(folder / name))
    return paths + [str(REAL_TRAIN / rel) for rel, _ in real_train_rows(8)]


@pytest.fixture(scope="module")
def inferencer(tiny_released) -> MMOCRInferencer:
    return MMOCRInferencer(rec=str(TINY_CONFIG), rec_weights=str(tiny_released), device="cpu")


def read_with(inferencer: MMOCRInferencer, paths: list[str]) -> list[tuple[str, float]]:
    """(text, score) per crop; all crops in one batch, as CLIP4STR.read() batches them."""
    predictions = inferencer(paths, batch_size=len(paths))["predictions"]
    return [(p["rec_texts"][0], p["rec_scores"][0]) for p in predictions]


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "name, architecture",
    [("clip4str_base16", VIT_B16), ("clip4str_large14", VIT_L14), ("clip4str_huge14", VIT_H14)],
)
def test_released_model_configs_build_their_architecture(name, architecture):
    cfg = Config.fromfile(CONFIGS / f"{name}.py")
    assert cfg.default_scope == "mmocr"
    assert cfg.custom_imports.imports == ["pipeline.openmmlab.recognizer"]
    height, width = architecture.image_size
    for steps in (cfg.test_dataloader.dataset.pipeline, cfg.train_dataloader.dataset.pipeline):
        assert resize_scale(steps) == (width, height)
    with torch.device("meta"):  # shapes only: no memory, no time
        model = MODELS.build(cfg.model)
    assert model.model.config.clip == architecture
    assert model.model.config.charset == CLIP4STRConfig(clip=architecture).charset


def test_user_config_inherits_base16_and_overrides_fields():
    cfg = Config.fromfile(USER_CONFIG)
    model = MODELS.build(cfg.model)  # B/16 with random weights, about 158M parameters
    config = model.model.config
    assert (config.refine_iters, config.decode) == (2, "nar")
    assert config.clip == VIT_B16 and config.max_label_length == 25
    image = torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8)
    with torch.no_grad():
        (sample,) = model.test_step(dict(inputs=[image], data_samples=None))
    assert isinstance(sample.pred_text.item, str)


def test_default_config_starts_random_with_a_warning_while_weights_are_missing(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(hub, "DEFAULT_WEIGHTS", tmp_path / "not-installed")
    cfg = Config.fromfile(CONFIGS / "default.py")
    assert resize_scale(cfg.test_dataloader.dataset.pipeline) == (192, 48)
    assert resize_scale(cfg.val_dataloader.dataset.pipeline) == (192, 48)
    with pytest.warns(UserWarning, match="RANDOM weights"):
        model = MODELS.build(cfg.model)
    assert model.model.config.clip == DEFAULT_ARCH
    assert model.model.config.decoder_heads == 6
    # Fine-tuned as the default was: the pre-trained encoder trains too, and crops are fitted
    # keeping their aspect ratio, as the model reads them.
    visual = model.model.clip_model.visual
    assert all(p.requires_grad for p in visual.encoder.parameters())
    assert visual.proj.weight.requires_grad
    (fit,) = [t for t in cfg.test_dataloader.dataset.pipeline if t["type"] == "CLIP4STRResize"]
    assert fit["resize"] == "keep_aspect"


def test_the_earlier_default_has_its_own_config_and_weights():
    cfg = Config.fromfile(CONFIGS / "small_scratch.py")
    assert resize_scale(cfg.test_dataloader.dataset.pipeline) == (128, 32)
    model = MODELS.build(cfg.model)
    assert model.model.config.clip == SMALL_CONV
    shipped = CLIP4STR.from_checkpoint(hub.SHIPPED_MODELS["small-scratch"])
    for key, value in model.model.state_dict().items():
        assert torch.equal(value, shipped.state_dict()[key]), key


def test_default_config_loads_the_installed_default_weights(monkeypatch, tmp_path):
    torch.manual_seed(0)
    installed = CLIP4STR(CLIP4STRConfig(clip=DEFAULT_ARCH, decoder_heads=6, resize="keep_aspect"))
    installed.save_pretrained(tmp_path / "default")
    monkeypatch.setattr(hub, "DEFAULT_WEIGHTS", tmp_path / "default")

    model = MODELS.build(Config.fromfile(CONFIGS / "default.py").model)
    model.init_weights()  # what the Runner does before training: must keep the weights
    expected = installed.state_dict()
    for key, value in model.model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_checkpoint_that_does_not_fit_the_config_is_refused(monkeypatch, tmp_path):
    CLIP4STR(CLIP4STRConfig(clip=DEFAULT_ARCH, decoder_heads=8)).save_pretrained(tmp_path / "d")
    monkeypatch.setattr(hub, "DEFAULT_WEIGHTS", tmp_path / "d")
    with pytest.raises(CheckpointError, match="decoder_heads: config 6, checkpoint 8"):
        MODELS.build(Config.fromfile(CONFIGS / "default.py").model)
    cfg = Config.fromfile(CONFIGS / "default.py")
    cfg.model.checkpoint = str(tmp_path / "missing.pt")
    with pytest.raises(hub.WeightsUnavailableError):
        MODELS.build(cfg.model)


# --------------------------------------------------------------------------- inference


def test_inferencer_reads_released_weights_exactly_like_clip4str_read(
    inferencer, tiny_released, crop_files, reference
):
    readings = CLIP4STR.from_checkpoint(tiny_released).read(crop_files)
    results = read_with(inferencer, crop_files)
    assert [text for text, _ in results] == [r.text for r in readings]
    official = reference["variants"]["random"]["outputs"]["refine_iters=1"]["texts"]
    batch_decoding = CLIP4STR.from_checkpoint(tiny_released)
    batch_decoding.batch_independent = False  # as the official code decoded the batch of 8
    assert [r.text for r in batch_decoding.read(crop_files[:8])] == official
    # MMOCR's inferencer scores a word by the mean of pred_text.score (characters, then [E]).
    for (_, score), reading in zip(results, readings):
        assert score == pytest.approx(statistics.mean(reading.char_confidences), abs=1e-5)


def test_test_pipeline_gives_the_tensor_of_clip4str_preprocess(
    inferencer, tiny_released, crop_files
):
    textrec = inferencer.textrec_inferencer
    data = textrec.collate_fn([textrec.pipeline(path) for path in crop_files])
    batch = textrec.model.data_preprocessor(data, False)["inputs"]
    expected = CLIP4STR.from_checkpoint(tiny_released).preprocess(crop_files)
    assert batch.shape == expected.shape == (len(crop_files), 3, 224, 224)
    assert (batch - expected).abs().max().item() < 1e-6


def test_weights_that_do_not_fit_are_errors_not_random_init(reference, tmp_path):
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    checkpoint = released_layout_checkpoint(reference)
    incomplete = {**checkpoint, "state_dict": dict(checkpoint["state_dict"])}
    del incomplete["state_dict"]["cross_decoder.head.weight"]
    torch.save(incomplete, tmp_path / "incomplete.pt")
    with pytest.raises(CheckpointError, match="cross_decoder.head.weight"):
        load_checkpoint(model, str(tmp_path / "incomplete.pt"))

    misshaped = {**checkpoint, "state_dict": dict(checkpoint["state_dict"])}
    misshaped["state_dict"]["visual_decoder.pos_queries"] = torch.zeros(1, 33, 64)
    torch.save(misshaped, tmp_path / "misshaped.pt")
    with pytest.raises(CheckpointError, match="pos_queries"):
        load_checkpoint(model, str(tmp_path / "misshaped.pt"))

    # Same shapes, other meaning: an MMOCR checkpoint records the configuration it was made with.
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.charset = model.model.config.charset[::-1]
    torch.save({"state_dict": MODELS.build(cfg.model).state_dict()}, tmp_path / "reversed.pth")
    with pytest.raises(CheckpointError, match="charset"):
        load_checkpoint(model, str(tmp_path / "reversed.pth"))


# --------------------------------------------------------------------------- training


def write_recognition_dataset(root: Path, rows: list[tuple[str, str]]) -> None:
    """Crops and ``textrecog_train.json`` in MMOCR's recognition annotation format."""
    (root / "crops").mkdir(parents=True)
    data_list = []
    for rel, label in rows:
        name = Path(rel).name
        shutil.copy(REAL_TRAIN / rel, root / "crops" / name)
        data_list.append({"img_path": f"crops/{name}", "instances": [{"text": label}]})
    metainfo = {"dataset_type": "TextRecogDataset", "task_name": "textrecog"}
    annotations = {"metainfo": metainfo, "data_list": data_list}
    (root / "textrecog_train.json").write_text(json.dumps(annotations), encoding="utf-8")


def tiny_training_config(data_root: Path, work_dir: Path, iterations: int) -> Config:
    """The tiny model overfitting a handful of crops: high LR, no schedule, no validation."""
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=0)
    cfg.model.dropout = 0.0
    cfg.model.loss = dict(num_orders=2)  # the canonical order and its mirror: faster steps
    cfg.train_dataloader.update(batch_size=8, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = str(data_root)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iterations, val_interval=iterations)
    for stage in ("val", "test"):
        cfg[f"{stage}_dataloader"] = cfg[f"{stage}_cfg"] = cfg[f"{stage}_evaluator"] = None
    cfg.param_scheduler = None
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.optim_wrapper.paramwise_cfg.decoder_lr_scale = 1.0
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = iterations
    return cfg


@pytest.mark.slow
def test_mmocr_runner_trains_and_its_checkpoint_loads_back(tmp_path):
    rows = real_train_rows(8, seed=1)
    write_recognition_dataset(tmp_path / "data", rows)
    runner = Runner.from_cfg(tiny_training_config(tmp_path / "data", tmp_path / "work", 30))
    runner.train()

    losses = runner.message_hub.get_scalar("train/loss").data[0].tolist()
    assert len(losses) == 30
    assert statistics.mean(losses[-3:]) < 0.75 * statistics.mean(losses[:3])

    checkpoint = tmp_path / "work" / "iter_30.pth"
    trained = runner.model.model.state_dict()
    # A runner checkpoint keeps the training state (message_hub, optimizer): full pickle.
    with pytest.raises(CheckpointError, match="trust_checkpoint=True"):
        CLIP4STR.from_checkpoint(checkpoint)
    model = CLIP4STR.from_checkpoint(checkpoint, trust_checkpoint=True)
    assert model.config == runner.model.model.config
    for key, value in model.state_dict().items():
        assert torch.equal(value, trained[key]), key

    with trusted_checkpoints(checkpoint):
        inferencer = MMOCRInferencer(rec=str(TINY_CONFIG), rec_weights=str(checkpoint))
    loaded = inferencer.textrec_inferencer.model.model.state_dict()
    for key, value in trained.items():
        assert torch.equal(value, loaded[key]), key
    crops = [str(tmp_path / "data" / "crops" / Path(rel).name) for rel, _ in rows]
    assert [text for text, _ in read_with(inferencer, crops)] == [r.text for r in model.read(crops)]


@pytest.mark.skipif(
    not (hub.DEFAULT_WEIGHTS / "model.safetensors").is_file(),
    reason="the default recognizer weights are not installed",
)
def test_default_config_in_mmocr_reads_like_recognizer_load_default():
    import recognizer

    paths = [str(REAL_TRAIN / rel) for rel, _ in real_train_rows(24, seed=3)]
    through_mmocr = MMOCRInferencer(rec=str(CONFIGS / "default.py"), device="cpu")
    mmocr_texts = [text for text, _ in read_with(through_mmocr, paths)]
    plain_texts = [r.text for r in recognizer.load("default").read(paths, batch_size=len(paths))]
    assert mmocr_texts == plain_texts
    assert any(plain_texts)


@pytest.mark.slow
def test_the_mmocr_and_plain_paths_read_the_same_words_on_real_crops():
    """A sample here; all 3000 IIIT5K test crops: ``python benchmarks/mmocr_vs_plain.py``."""
    result = run_python(REPO / "benchmarks" / "mmocr_vs_plain.py", "--limit", 96)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "96 crops: 0 read differently, 0 with different scores" in result.stdout


@pytest.mark.parametrize("resize", ["stretch", "keep_aspect"])
def test_clip4str_resize_step_gives_the_tensor_of_clip4str_preprocess(crop_files, resize):
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate

    mean, std = (0.2, 0.5, 0.7), (0.3, 0.4, 0.5)
    steps = Compose(
        [
            dict(type="mmocr.LoadImageFromFile", imdecode_backend="pillow"),
            dict(type="mmocr.CLIP4STRResize", scale=(192, 48), resize=resize, mean=mean),
            dict(
                type="mmocr.PackTextRecogInputs",
                meta_keys=("img_path", "ori_shape", "img_shape", "valid_ratio"),
            ),
        ]
    )
    data = pseudo_collate([steps(dict(img_path=path)) for path in crop_files])
    preprocessor = MODELS.build(dict(type="CLIP4STRDataPreprocessor", mean=mean, std=std))
    batch = preprocessor(data, False)["inputs"]
    expected = preprocess_batch(crop_files, (48, 192), mean, std, resize)
    assert batch.shape == expected.shape == (len(crop_files), 3, 48, 192)
    assert (batch - expected).abs().max().item() < 1e-6
    ratios = [sample.valid_ratio for sample in data["data_samples"]]
    assert all(0 < r <= 1 for r in ratios) and (min(ratios) < 1) == (resize == "keep_aspect")
