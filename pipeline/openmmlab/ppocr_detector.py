"""PP-OCR's DB text detector (ONNX, from the ``rapidocr`` package) as an MMOCR text detector.

This is the offline default detector (``detector_configs/default.py``): it needs no download,
because the ``rapidocr`` wheel ships the PP-OCR detection model. The model is a
Differentiable-Binarization network trained on text *lines*; MMOCR's own ``DBPostprocessor``
turns its probability map into line polygons, and :mod:`pipeline.word_splitting` cuts each
line into words at the gaps between them (the same stage the pipeline can apply to any
detector's lines).

Importing this module registers, in MMOCR's registries:

- ``PPOCRDBDetector`` (``mmocr.registry.MODELS``): the detector (inference only);
- ``PPOCRDetResize`` (``mmocr.registry.TRANSFORMS``): the input resize PP-OCR expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recognizer.rapidocr_models import rapidocr_models_dir

from ..splitters import make_word_splitter
from ..word_splitting import to_gray
from .compat import apply_openmmlab_workarounds

apply_openmmlab_workarounds()

import torch  # noqa: E402
from mmcv.transforms import BaseTransform  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402
from mmocr.datasets.transforms import Resize  # noqa: E402
from mmocr.models.textdet.detectors.base import BaseTextDetector  # noqa: E402
from mmocr.registry import MODELS, TRANSFORMS  # noqa: E402
from mmocr.structures import TextDetDataSample  # noqa: E402
from mmocr.utils.typing_utils import DetSampleList  # noqa: E402

__all__ = [
    "PPOCRDBDetector",
    "PPOCRDetResize",
    "find_ppocr_det_model",
    "find_quantized_det_model",
    "ppocr_input_size",
]

INSTALL_HINT = "pip install rapidocr onnxruntime"
# The detection model the tested rapidocr release (3.10) ships in its wheel.
PREFERRED_MODEL = "PP-OCRv6_det_small.onnx"
# Its 8-bit copy shipped with this package (pipeline/openmmlab/quantize_detector.py); a
# .json beside it records what it was made from.
QUANTIZED_MODEL = Path(__file__).resolve().parent / "weights" / "PP-OCRv6_det_small_int8.onnx"
# A region whose bounding box is this many times as tall as it is wide stands: standing
# text, or a piece of a line the network is unsure of (see ``recheck_standing``).
STANDING_RATIO = 1.5


def find_ppocr_det_model() -> Path:
    """The PP-OCR text detection ONNX file inside the installed ``rapidocr`` package."""
    models = rapidocr_models_dir("The default text detector")
    if (models / PREFERRED_MODEL).is_file():
        return models / PREFERRED_MODEL
    # Other rapidocr releases ship other PP-OCR versions under other names.
    candidates = sorted(models.glob("*det*.onnx"))
    if not candidates:
        raise FileNotFoundError(
            f"No PP-OCR detection model (*det*.onnx) in {models}. Reinstall a rapidocr release "
            f"that ships one: pip install --force-reinstall 'rapidocr>=3.10,<4' onnxruntime"
        )
    return candidates[-1]


def find_quantized_det_model() -> Path:
    """The 8-bit copy of PP-OCR's detection model that ships with this package."""
    if not QUANTIZED_MODEL.is_file():
        raise FileNotFoundError(
            f"The 8-bit detection model {QUANTIZED_MODEL} (--detector default-int8) is "
            "missing from this installation: reinstall the package (pip install "
            "--force-reinstall ocr-pipeline), or run the float model with --detector default"
        )
    return QUANTIZED_MODEL


def ppocr_input_size(
    height: int, width: int, min_side: int = 736, max_side: int = 2000, divisor: int = 32
) -> tuple[int, int]:
    """(height, width) PP-OCR's detector is fed for an image of this size.

    As PP-OCR (and rapidocr) preprocess: images longer than ``max_side`` are shrunk to it,
    images whose short side is under ``min_side`` are enlarged towards it (aspect ratio
    kept), then each side is rounded to a multiple of ``divisor`` (the network's stride).
    Unlike PP-OCR, enlarging stops where the long side reaches ``max_side``: a thin strip
    (a photo of one text line, or 1x5000 pixels) would otherwise grow to gigapixels.
    """
    scale = min(1.0, max_side / max(height, width))
    if min(height, width) * scale < min_side:
        scale = max(scale, min(min_side / min(height, width), max_side / max(height, width)))
    new_h = max(divisor, round(int(height * scale) / divisor) * divisor)
    new_w = max(divisor, round(int(width * scale) / divisor) * divisor)
    return new_h, new_w


@TRANSFORMS.register_module()
class PPOCRDetResize(BaseTransform):
    """Resize an image (and any annotations) to the input size of :func:`ppocr_input_size`.

    Sets ``scale_factor`` like MMOCR's ``Resize``, so predictions map back to the original
    image. The aspect ratio changes slightly (rounding to multiples of 32), as in PP-OCR.
    """

    def __init__(self, min_side: int = 736, max_side: int = 2000, divisor: int = 32) -> None:
        self.min_side = min_side
        self.max_side = max_side
        self.divisor = divisor

    def transform(self, results: dict) -> dict:
        height, width = results["img"].shape[:2]
        new_h, new_w = ppocr_input_size(height, width, self.min_side, self.max_side, self.divisor)
        return Resize(scale=(new_w, new_h), keep_ratio=False)(results)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(min_side={self.min_side}, max_side={self.max_side}, "
            f"divisor={self.divisor})"
        )


def _onnx_session(model_file: Path, num_threads: int) -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise ModuleNotFoundError(
            f"The default text detector needs onnxruntime to run PP-OCR's model: {INSTALL_HINT}"
        ) from err
    options = onnxruntime.SessionOptions()
    if num_threads > 0:
        options.intra_op_num_threads = num_threads
    # Idle worker threads sleep instead of spinning: the recognizer runs beside the
    # detector (pipeline.core overlaps them) and needs those cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        str(model_file), options, providers=["CPUExecutionProvider"]
    )


def _probability_maps(
    session: Any, inputs: torch.Tensor, data_samples: DetSampleList | None
) -> torch.Tensor:
    """The session's text probability map, (N, 1, H, W) in [0, 1], for normalized inputs.

    With data samples, each image is run alone at its own size (``img_shape``) and the
    padding the batch added stays 0: the network sees far enough that padding would
    change what it finds near the borders, so results would depend on the batch.
    """
    input_name = session.get_inputs()[0].name
    batch = inputs.detach().to("cpu", torch.float32).numpy()
    if data_samples is None:
        (prob,) = session.run(None, {input_name: batch})
        return torch.from_numpy(prob).to(inputs.device)
    prob = np.zeros((batch.shape[0], 1, *batch.shape[2:]), dtype=np.float32)
    for i, sample in enumerate(data_samples):
        h, w = sample.img_shape[:2]
        single = np.ascontiguousarray(batch[i : i + 1, :, :h, :w])
        (prob[i : i + 1, :, :h, :w],) = session.run(None, {input_name: single})
    return torch.from_numpy(prob).to(inputs.device)


def _stands(polygon: Any) -> bool:
    """Whether a region's bounding box is :data:`STANDING_RATIO` times as tall as wide."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    width, height = points.max(axis=0) - points.min(axis=0)
    return height > STANDING_RATIO * max(width, 1e-6)


@MODELS.register_module()
class PPOCRDBDetector(BaseTextDetector):
    """PP-OCR's DB text detector run by onnxruntime, with MMOCR's DB post-processing.

    Args:
        postprocessor: an MMOCR text detection postprocessor (``DBPostprocessor``) that turns
            the probability map into line polygons in original-image pixels.
        data_preprocessor: MMOCR's ``TextDetDataPreprocessor``; it must produce what PP-OCR
            expects: BGR, ``(pixel / 255 - 0.5) / 0.5``.
        word_splitter: settings of :func:`~pipeline.splitters.make_word_splitter`
            (``method="ink"`` or ``"ctc"`` and its arguments), or None to return the model's
            line polygons as they are.
        model_file: the ONNX file; None: the float model in the installed ``rapidocr``, or
            with ``quantized`` the 8-bit copy of it shipped with this package
            (:mod:`pipeline.openmmlab.quantize_detector`).
        quantized: with no ``model_file``, run the shipped 8-bit model (two to three times
            as fast on CPU) instead of the float one.
        recheck_standing: with ``quantized``, detect a photo again with the float model when
            any region the 8-bit model found stands (its bounding box
            :data:`STANDING_RATIO` times as tall as wide): the 8-bit model breaks some
            standing lines, which the float model finds whole, into pieces.
        num_threads: onnxruntime intra-op threads; 0 lets onnxruntime choose.

    There are no trainable weights: they are inside the ONNX graph (``weights_built_in``,
    so ``MMOCRInferencer`` does not warn that no checkpoint was loaded).
    """

    weights_built_in = True

    def __init__(
        self,
        postprocessor: dict,
        data_preprocessor: dict | None = None,
        word_splitter: dict | None = None,
        model_file: str | None = None,
        quantized: bool = False,
        recheck_standing: bool = False,
        num_threads: int = 0,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.postprocessor = MODELS.build(postprocessor)
        self.word_splitter = (
            make_word_splitter(word_splitter) if word_splitter is not None else None
        )
        if model_file:
            self.model_file = Path(model_file)
        else:
            self.model_file = find_quantized_det_model() if quantized else find_ppocr_det_model()
        if recheck_standing and not (quantized and not model_file):
            raise ValueError(
                "recheck_standing re-detects with the float model what the shipped 8-bit "
                "model found: it needs quantized=True and no model_file"
            )
        self.recheck_standing = recheck_standing
        self.num_threads = num_threads
        self.session = _onnx_session(self.model_file, num_threads)
        self._float_session = None  # made on the first recheck
        self.rechecked = 0  # photos detected again with the float model

    def _forward(self, inputs: torch.Tensor, data_samples: DetSampleList | None = None):
        """The text probability map, (N, 1, H, W) in [0, 1], for normalized BGR inputs."""
        return _probability_maps(self.session, inputs, data_samples)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._forward(inputs)

    def predict(self, inputs: torch.Tensor, data_samples: DetSampleList) -> DetSampleList:
        prob_maps = self._forward(inputs, data_samples)[:, 0]
        data_samples = self.postprocessor(prob_maps, data_samples)
        if self.recheck_standing:
            for i, sample in enumerate(data_samples):
                if any(_stands(polygon) for polygon in sample.pred_instances.polygons):
                    self._detect_again_with_float_model(inputs, prob_maps, data_samples, i)
        if self.word_splitter is not None:
            for image, prob_map, sample in zip(inputs, prob_maps, data_samples):
                self._split_into_words(image, prob_map, sample)
        return data_samples

    def _detect_again_with_float_model(
        self,
        inputs: torch.Tensor,
        prob_maps: torch.Tensor,
        data_samples: DetSampleList,
        index: int,
    ) -> None:
        """Replace image ``index``'s probability map and regions by the float model's."""
        if self._float_session is None:
            self._float_session = _onnx_session(find_ppocr_det_model(), self.num_threads)
        sample = data_samples[index]
        prob_maps[index] = _probability_maps(
            self._float_session, inputs[index : index + 1], [sample]
        )[0, 0]
        self.postprocessor(prob_maps[index : index + 1], [sample])
        self.rechecked += 1

    def loss(self, inputs: torch.Tensor, data_samples: DetSampleList) -> dict:
        raise NotImplementedError(
            "PPOCRDBDetector is inference only: the PP-OCR model is a fixed ONNX graph. "
            "Train an MMOCR DBNet config instead."
        )

    def _split_into_words(
        self, image: torch.Tensor, prob_map: torch.Tensor, sample: TextDetDataSample
    ) -> None:
        """Replace the sample's line polygons by word quadrilaterals (original pixels).

        A splitter that reads the lines (``CTCWordSplitter``) also leaves each word's text
        in ``texts``, its confidence in ``text_scores`` and its characters' in
        ``char_scores`` (empty text and 0 for a line it read nothing in)."""
        instances = sample.pred_instances
        if not len(instances.polygons):
            return
        # The splitter works on the network input, where the prob map lives.
        scale = np.asarray(sample.scale_factor, dtype=np.float64)  # (w_scale, h_scale)
        pixels = self._denormalize(image)  # BGR, as the detector reads it
        reads = hasattr(self.word_splitter, "read_words")
        source = pixels if self.word_splitter.needs_color else to_gray(pixels)
        prob = prob_map.detach().cpu().numpy()
        words, scores, readings = [], [], []
        for polygon, score in zip(instances.polygons, instances.scores.tolist()):
            line = np.asarray(polygon, dtype=np.float64).reshape(-1, 2) * scale
            if reads:
                found = self.word_splitter.read_words(line, source)
            else:
                found = [(word, None) for word in self.word_splitter.split(line, source, prob)]
            for word, reading in found:
                words.append((word / scale).reshape(-1).astype(np.float32))
                scores.append(score)
                readings.append(reading)
        fields = dict(polygons=words, scores=torch.tensor(scores, dtype=torch.float32))
        if reads:
            fields.update(
                texts=[r.text if r else "" for r in readings],
                text_scores=torch.tensor(
                    [r.confidence if r else 0.0 for r in readings], dtype=torch.float32
                ),
                char_scores=[r.char_confidences if r else [] for r in readings],
            )
        sample.pred_instances = InstanceData(**fields)

    def _denormalize(self, image: torch.Tensor) -> np.ndarray:
        """The network input back as an 8-bit (H, W, C) image, contiguous: OpenCV copies a
        strided array whole on every call, and each line's strip is one call."""
        mean = self.data_preprocessor.mean.detach().cpu()
        std = self.data_preprocessor.std.detach().cpu()
        pixels = image.detach().cpu() * std + mean
        return np.ascontiguousarray(pixels.clamp(0, 255).byte().permute(1, 2, 0).numpy())
