"""The pipeline's detection stage over MMOCR: named detector configs, their weights, and
``MMOCRDetector`` (a ``pipeline.stages.Detector`` running any MMOCR text detection config)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from recognizer.interface import Reading, WeightsUnavailableError

from ..stages import Detection

CONFIG_DIR = Path(__file__).resolve().parents[2] / "detector_configs"
DETECTORS = {
    "default": "default.py",
    # The default detector running an 8-bit copy of PP-OCR's model (1.15-2x the images/s).
    "default-int8": "default_int8.py",
    # The default detector with quadrilaterals only (as before curved text was followed).
    "default-quads": "default_quads.py",
    # The default detector with lines cut at gaps in the ink (as before the line reader).
    "default-ink": "default_ink.py",
    "dbnet": "dbnet_resnet18_fpnc_icdar2015.py",
    "dbnetpp": "dbnetpp_resnet50-dcnv2_icdar2015.py",
}


def detector_config_path(name_or_path: str | Path) -> Path:
    """The config file for a known detector name or a path to an MMOCR config."""
    key = str(name_or_path)
    if key in DETECTORS:
        return CONFIG_DIR / DETECTORS[key]
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    raise WeightsUnavailableError(
        f"{key!r} is neither an MMOCR detector config nor a known detector ({', '.join(DETECTORS)})"
    )


# Detector model types that carry their weights inside (an ONNX graph): no checkpoint needed.
WEIGHTS_INSIDE = frozenset({"PPOCRDBDetector"})


def detector_checkpoint(config, weights: str | None) -> str | None:
    """Local weights for a loaded config: the given path, or its ``load_from``, downloaded once."""
    if weights is not None:
        return weights
    url = config.get("load_from")
    if not url or not str(url).startswith(("http://", "https://")):
        return url
    return download_checkpoint(str(url))


def download_checkpoint(url: str) -> str:
    """A model-zoo checkpoint in torch's hub cache, downloading it with a progress bar."""
    import torch.hub

    folder = Path(torch.hub.get_dir()) / "checkpoints"
    target = folder / os.path.basename(url)
    if target.is_file():
        return str(target)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(target), progress=True)
    except Exception as error:  # noqa: BLE001 - every network failure gets the same advice
        raise WeightsUnavailableError(
            f"could not download {url} ({type(error).__name__}: {error}). Without network, "
            f"download it elsewhere and place it at {target}, or pass its path as weights"
        ) from None
    return str(target)


class MMOCRDetector:
    """A text detector run by MMOCR's ``TextDetInferencer``; images in, polygons out."""

    def __init__(
        self, detector: str | Path = "default", weights: str | None = None, device: str = "cpu"
    ):
        from .compat import apply_openmmlab_workarounds

        apply_openmmlab_workarounds()
        from mmengine import Config
        from mmocr.apis import TextDetInferencer

        self.config = detector_config_path(detector)
        self.name = str(detector)
        config = Config.fromfile(str(self.config))
        # The default detectors cut their lines into words inside the model.
        self.cuts_words = config.model.get("word_splitter") is not None
        weights = detector_checkpoint(config, weights)
        if weights is None and config.model.get("type") not in WEIGHTS_INSIDE:
            raise WeightsUnavailableError(
                f"{self.config} names no weights (no load_from) and none were given: pass the "
                "detector checkpoint (--detector-weights PATH, or weights= in Python); "
                "without it MMOCR would detect with random weights"
            )
        with warnings.catch_warnings():
            # Known-harmless notices while the inferencer is built: the ONNX detector's
            # weights are in its graph, and the visualizer we never use has no save_dir.
            warnings.filterwarnings("ignore", message="Checkpoint is not loaded")
            warnings.filterwarnings("ignore", message="Failed to add <class")
            self._inferencer = TextDetInferencer(model=config, weights=weights, device=device)

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """Polygons with scores for each HxWx3 RGB image."""
        if not images:
            return []
        bgr = [np.ascontiguousarray(image[:, :, ::-1]) for image in images]
        output = self._inferencer(
            bgr, batch_size=len(bgr), progress_bar=False, return_datasamples=True
        )
        return [_detections(sample.pred_instances) for sample in output["predictions"]]


def _detections(instances) -> list[Detection]:
    """An MMOCR prediction's polygons and scores, with the text a detector that reads its
    regions left beside them (``texts``, ``text_scores``, ``char_scores``)."""
    scores = _numbers(instances.scores)
    readings: list[Reading | None] = [None] * len(scores)
    if "texts" in instances:
        confidences = _numbers(instances.text_scores)
        readings = [
            Reading(text, confidence, [float(c) for c in chars]) if text else None
            for text, confidence, chars in zip(
                instances.texts, confidences, instances.char_scores, strict=True
            )
        ]
    return [
        Detection(np.asarray(_numbers(polygon), np.float32).reshape(-1, 2), score, reading)
        for polygon, score, reading in zip(instances.polygons, scores, readings, strict=True)
    ]


def _numbers(values) -> list[float]:
    """A tensor or array (any device) or a sequence as a list of floats."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
