"""An 8-bit copy of PP-OCR's text detection model (``--detector default-int8``).

    python -m pipeline.openmmlab.quantize_detector --photos demo \\
        --crops ../shared/data/real_train \\
        --out pipeline/openmmlab/weights/PP-OCRv6_det_small_int8.onnx

The detection network takes about three quarters of the default pipeline's time on CPU.
ONNX Runtime runs its 8-bit integer form (weights per output channel, activations per
tensor, QDQ format) two to three times as fast. The model shipped in ``weights/`` was made by
the command above from the ``PP-OCRv6_det_small.onnx`` of the rapidocr 3.10 wheel,
calibrated on the four demo photos (``demo/*.jpg``) and eight mosaics of word crops from the
ICDAR 2015 *training* split (``real_train``), all fed at the detector's own input size. No
photo that the pipeline is evaluated on is among them. See the README's "The detector in 8
bits" for what it reads against the float model (the default).

Steps: the float graph (ONNX opset 11 as shipped) is raised to opset 13, which per-channel
quantization needs; ONNX Runtime's pre-processing folds and fuses it; static quantization
records each activation's range over the calibration inputs (min/max) and writes the graph
with quantize/dequantize pairs around every quantized operator.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

OPSET = 13
MOSAICS = 8  # crop mosaics calibrating the shipped model


def detector_input(photo_bgr: np.ndarray, min_side: int = 736, max_side: int = 2000) -> np.ndarray:
    """A BGR photo as the detector sees it: resized like ``PPOCRDetResize``, normalized
    ``(pixel / 255 - 0.5) / 0.5``, ``(1, 3, H, W)`` float32."""
    import cv2

    from .ppocr_detector import ppocr_input_size

    height, width = ppocr_input_size(*photo_bgr.shape[:2], min_side=min_side, max_side=max_side)
    resized = cv2.resize(photo_bgr, (width, height), interpolation=cv2.INTER_LINEAR)
    pixels = resized.astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


def calibration_inputs(photos: Sequence[Path]) -> list[np.ndarray]:
    """The detector inputs of the calibration photos (unreadable files are an error)."""
    import cv2

    inputs = []
    for path in photos:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read calibration photo {path}: not an image file")
        inputs.append(detector_input(image))
    if not inputs:
        raise ValueError("no calibration photos: give at least one photo of text")
    return inputs


def crop_mosaics(
    crops_dir: Path,
    count: int = MOSAICS,
    per_mosaic: int = 60,
    seed: int = 0,
    source: str = "IC15_train",
) -> list[np.ndarray]:
    """Detector inputs of ``count`` 1280x720 mosaics of word crops: ``per_mosaic`` crops of
    a ``real_train``-style folder (``labels.tsv``: path, label, source tag; those tagged
    ``source``), each scaled by 0.5-2x and pasted at a random place on black, later ones over
    earlier ones. The annotated scene photos at hand are test photos, which nothing shipped
    may be fitted to; a training split's word crops may be, and they drive the network's
    activations through the range that text in photos does."""
    import cv2

    files = _crop_files(crops_dir, source)
    rng = random.Random(seed)
    height, width = 720, 1280
    mosaics = []
    for _ in range(count):
        canvas = np.zeros((height, width, 3), np.uint8)
        for _ in range(per_mosaic):
            name = rng.choice(files)
            crop = cv2.imread(str(Path(crops_dir) / name), cv2.IMREAD_COLOR)
            if crop is None:
                raise ValueError(f"cannot read crop {Path(crops_dir) / name}")
            scale = rng.uniform(0.5, 2.0)
            crop = cv2.resize(crop, None, fx=scale, fy=scale)
            h, w = crop.shape[:2]
            y = rng.randrange(0, max(1, height - h))
            x = rng.randrange(0, max(1, width - w))
            h, w = min(h, height - y), min(w, width - x)
            canvas[y : y + h, x : x + w] = crop[:h, :w]
        mosaics.append(detector_input(canvas))
    return mosaics


def _crop_files(crops_dir: Path, source: str) -> list[str]:
    labels = Path(crops_dir) / "labels.tsv"
    if not labels.is_file():
        raise ValueError(f"{labels} not found: --crops takes a folder with a labels.tsv")
    rows = [line.split("\t") for line in labels.read_text(encoding="utf-8").splitlines()]
    files = [row[0] for row in rows if len(row) >= 3 and row[2] == source]
    if not files:
        raise ValueError(f"no crops tagged {source!r} in {labels}")
    return files


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def quantize_detector(
    source: Path, out: Path, photos: Sequence[Path], crops_dir: Path | None = None
) -> Path:
    """Write the 8-bit form of the float detection model ``source`` to ``out``, calibrated
    on ``photos`` and, given ``crops_dir``, on mosaics of its word crops (``crop_mosaics``)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load(str(source))
    input_name = model.graph.input[0].name
    inputs = calibration_inputs(photos)
    if crops_dir is not None:
        inputs += crop_mosaics(crops_dir)

    class Photos(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds: Iterator[dict] = iter({input_name: x} for x in inputs)

        def get_next(self) -> dict | None:
            return next(self._feeds, None)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        raised = Path(scratch) / "opset13.onnx"
        prepared = Path(scratch) / "prepared.onnx"
        onnx.save(version_converter.convert_version(model, OPSET), str(raised))
        # Shapes are dynamic (any photo size): symbolic shape inference cannot finish.
        quant_pre_process(str(raised), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out),
            Photos(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return out


def onnxruntime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def main(argv: Sequence[str] | None = None) -> int:
    from .ppocr_detector import find_ppocr_det_model

    parser = argparse.ArgumentParser(
        prog="python -m pipeline.openmmlab.quantize_detector", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--photos", type=Path, required=True, help="folder of calibration photos (*.jpg, *.png)"
    )
    parser.add_argument(
        "--crops", type=Path, default=None, help="word crops folder with labels.tsv (real_train)"
    )
    parser.add_argument("--out", type=Path, required=True, help="the 8-bit model to write")
    parser.add_argument(
        "--source", type=Path, default=None, help="float model (default: the rapidocr wheel's)"
    )
    args = parser.parse_args(argv)
    if not args.photos.is_dir():
        print(f"error: --photos {args.photos}: not a folder of photos", file=sys.stderr)
        return 2
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    source = args.source or find_ppocr_det_model()
    try:
        quantize_detector(source, args.out, photos, args.crops)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    record = {
        "source": source.name,
        "source_sha256": sha256(source),
        "calibration_photos": [p.name for p in photos],
        "calibration_crop_mosaics": MOSAICS if args.crops else 0,
        "onnxruntime": onnxruntime_version(),
        "sha256": sha256(args.out),
    }
    provenance = args.out.with_suffix(".json")
    provenance.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{args.out} (and {provenance.name}): from {source}, {len(photos)} photos")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
