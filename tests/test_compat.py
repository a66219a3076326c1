"""The OpenMMLab workarounds in pipeline.openmmlab.compat, exercised on the real installed stack.

Random weights only: these tests check mechanics (imports, model building, checkpoint
loading, error messages), never accuracy, and reach no network.
"""

import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.openmmlab.compat import (
    MissingCompiledOpError,
    apply_openmmlab_workarounds,
    compiled_mmcv_ops_available,
    trusted_checkpoints,
)

# Must run before anything imports mmocr / mmdet / mmcv.ops.
apply_openmmlab_workarounds()

needs_no_compiled_ops = pytest.mark.skipif(
    compiled_mmcv_ops_available(), reason="full mmcv with compiled ops is installed"
)


def mmocr_config(relative: str) -> str:
    import mmocr

    path = Path(mmocr.__file__).parent / ".mim" / "configs" / relative
    assert path.is_file(), f"MMOCR config missing: {path}"
    return str(path)


def test_apply_is_idempotent_and_cheap():
    start = time.perf_counter()
    for _ in range(1000):
        apply_openmmlab_workarounds()
    assert time.perf_counter() - start < 0.1
    assert isinstance(compiled_mmcv_ops_available(), bool)


def test_register_all_modules_and_inferencer_import():
    from mmocr.apis import MMOCRInferencer  # noqa: F401  (imports mmcv.ops eagerly)
    from mmocr.registry import MODELS
    from mmocr.utils import register_all_modules

    register_all_modules()
    assert MODELS.get("DBNet") is not None
    # mmengine must keep treating this as "no mmcv-full" (its find_loader check).
    from mmengine.utils.dl_utils import mmcv_full_available

    assert mmcv_full_available() == compiled_mmcv_ops_available()


def test_dbnet_r18_from_mmocr_config_predicts_polygons():
    from mmengine import Config
    from mmocr.registry import MODELS
    from mmocr.structures import TextDetDataSample
    from mmocr.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(mmocr_config("textdet/dbnet/dbnet_resnet18_fpnc_1200e_icdar2015.py"))
    cfg.model.backbone.init_cfg = None  # no torchvision weights download
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()

    image = torch.randint(0, 256, (3, 640, 640), dtype=torch.uint8)
    sample = TextDetDataSample(
        metainfo=dict(img_shape=(640, 640), ori_shape=(640, 640), scale_factor=(1.0, 1.0))
    )
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
        results = model(**data, mode="predict")

    assert len(results) == 1
    pred = results[0].pred_instances
    assert isinstance(pred.polygons, list)
    assert len(pred.scores) == len(pred.polygons)
    for polygon in pred.polygons:
        # Flat [x1, y1, x2, y2, ...] with at least 4 points (quad text repr).
        assert len(polygon) % 2 == 0 and len(polygon) >= 8


@needs_no_compiled_ops
def test_missing_compiled_op_fails_with_clear_message():
    import mmcv.ops

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0]])
    with pytest.raises(MissingCompiledOpError, match=r"mmcv op 'nms'.*mmcv==2\.0\.1"):
        mmcv.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)

    # DCNv2, as in the DBNet++ / DBNet-R50-DCN configs: builds, fails loudly on use.
    dcn = mmcv.ops.ModulatedDeformConv2dPack(3, 4, 3, padding=1).eval()
    with pytest.raises(RuntimeError, match="modulated_deform_conv_forward.*mmcv-lite"):
        with torch.no_grad():
            dcn(torch.rand(1, 3, 8, 8))


def _save_mmengine_checkpoint(path: Path, with_message_hub: bool) -> torch.nn.Module:
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu

    model = torch.nn.Conv2d(3, 4, 3)
    checkpoint = {
        # What mmengine's Runner writes: numpy values end up in meta.
        "meta": dict(
            epoch=3,
            iter=30,
            seed=np.int64(42),
            hmean=np.float64(0.81),
            flags=np.array([True, False]),
            mean=np.arange(3, dtype=np.float32),
            dataset_meta=dict(classes=("text",)),
        ),
        "state_dict": weights_to_cpu(model.state_dict()),
    }
    if with_message_hub:
        hub = MessageHub.get_instance(f"compat-test-{path.name}")
        hub.update_scalar("train/loss", np.float32(0.5))
        checkpoint["message_hub"] = hub.state_dict()
    save_checkpoint(checkpoint, str(path))
    return model


def test_checkpoint_with_numpy_metadata_loads_through_mmengine(tmp_path):
    from mmengine.runner import load_checkpoint

    path = tmp_path / "published.pth"
    saved = _save_mmengine_checkpoint(path, with_message_hub=False)
    before = set(torch.serialization.get_safe_globals())

    model = torch.nn.Conv2d(3, 4, 3)
    checkpoint = load_checkpoint(model, str(path), map_location="cpu")

    assert checkpoint["meta"]["seed"] == 42
    assert checkpoint["meta"]["mean"].dtype == np.float32
    torch.testing.assert_close(model.weight, saved.weight)
    # The numpy allow-list is scoped to mmengine's loads, not left behind.
    assert set(torch.serialization.get_safe_globals()) == before


def test_full_runner_checkpoint_needs_explicit_trust(tmp_path):
    from mmengine.runner import load_checkpoint

    path = tmp_path / "epoch_3.pth"
    _save_mmengine_checkpoint(path, with_message_hub=True)
    model = torch.nn.Conv2d(3, 4, 3)

    with pytest.raises(pickle.UnpicklingError, match="HistoryBuffer.*trusted_checkpoints"):
        load_checkpoint(model, str(path), map_location="cpu")
    with trusted_checkpoints(path):
        checkpoint = load_checkpoint(model, str(path), map_location="cpu")
    assert "message_hub" in checkpoint
    with pytest.raises(pickle.UnpicklingError):  # trust ends with the block
        load_checkpoint(model, str(path), map_location="cpu")


def test_mmengine_package_helpers_work_without_pkg_resources():
    import mmcv
    from mmengine import Config
    from mmengine.utils import get_installed_path, is_installed

    assert get_installed_path("mmcv-lite" if is_installed("mmcv-lite") else "mmcv") == str(
        Path(mmcv.__file__).parent
    )
    assert not is_installed("surely-not-an-installed-package")
    # A config whose base lives in another package (``mmdet::``) goes through them.
    cfg = Config.fromfile(mmocr_config("textdet/maskrcnn/mask-rcnn_resnet50_fpn_160e_ctw1500.py"))
    assert cfg.model.type == "MMDetWrapper"


def test_imgaug_runs_on_numpy_without_removed_aliases():
    import imgaug.augmenters as iaa

    image = np.zeros((16, 16, 3), dtype=np.uint8)
    augmenter = iaa.OneOf([iaa.Fliplr(1.0), iaa.Flipud(1.0)])  # uses np.bool
    assert augmenter(image=image).shape == image.shape


def test_the_two_opencv_packages_are_one_release():
    # Both install the same cv2 module: differing releases would leave a mix of their files.
    from importlib import metadata

    import cv2

    versions = {}
    for name in ("opencv-python", "opencv-python-headless"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    assert versions, "no OpenCV package installed"
    assert len(set(versions.values())) == 1, versions
    assert cv2.__version__ == next(iter(versions.values())).rsplit(".", 1)[0]
