"""Pipeline speed and accuracy on real photos, against RapidOCR on the same images.

    python benchmarks/pipeline_speed.py                   # the 100 ICDAR 2015 photos
    python benchmarks/pipeline_speed.py --limit 20 --threads 2

One command, one machine state: our pipeline with the default models (PyTorch recognizer,
then the ONNX Runtime recognizer, then PyTorch without the background detection thread, then
PyTorch with every word read by the recognizer, ``line_reader_trust=None``, then PyTorch
with the 8-bit copy of PP-OCR's detection model, ``default-int8``) and
RapidOCR (PP-OCR models bundled with its wheel, run by ONNX Runtime) read the same photos.
Printed per engine: images/s, the ratio to RapidOCR, and detection and end-to-end word
H-mean (IoU >= 0.5, texts compared lowercase alphanumeric; ``pipeline.evaluation``).
RapidOCR reports lines; it is scored on its word boxes (``return_word_box``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SCENES = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "scenes.jsonl"

from pipeline.evaluation import SceneReport, evaluate_scenes, read_scenes, score_scene  # noqa: E402


def run_ours(scenes_file: Path, limit: int | None, backend: str, overlap: bool, **settings):
    from pipeline import OCRPipeline

    pipeline = OCRPipeline(recognizer_backend=backend, **settings)
    warm = read_scenes(scenes_file, 1)[0]["file"]
    pipeline.ocr(warm)  # model loading, ONNX export and first-run allocations are not timed
    started = time.perf_counter()
    report = evaluate_scenes(pipeline, scenes_file, limit=limit, overlap=overlap)
    return report, time.perf_counter() - started


def rapidocr_words(output) -> tuple[list, list[str]]:
    """Word polygons and texts from a RapidOCR result (word boxes when it has them)."""
    polygons, texts = [], []
    lines = output.word_results if output.txts else ()
    for line in lines:
        for text, _score, box in line:
            if box is not None and text.strip():
                polygons.append(np.asarray(box, dtype=np.float32).reshape(-1, 2))
                texts.append(text)
    return polygons, texts


def rapidocr_engine(threads: int):
    """RapidOCR with its bundled PP-OCR models, on ``threads`` ONNX Runtime threads."""
    from rapidocr import RapidOCR

    return RapidOCR(
        params={
            "Global.log_level": "warning",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )


def run_rapidocr(scenes_file: Path, limit: int | None, threads: int):
    engine = rapidocr_engine(threads)
    scenes = read_scenes(scenes_file, limit)
    engine(scenes[0]["file"], return_word_box=True)
    report = SceneReport()
    started = time.perf_counter()
    for scene in scenes:
        polygons, texts = rapidocr_words(engine(scene["file"], return_word_box=True))
        score_scene(report, scene, polygons, texts)
    return report, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, default=SCENES)
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    runs = {}
    runs["rapidocr"] = run_rapidocr(args.scenes, args.limit, args.threads)
    runs["ours (torch)"] = run_ours(args.scenes, args.limit, "torch", overlap=True)
    runs["ours (onnx)"] = run_ours(args.scenes, args.limit, "onnx", overlap=True)
    runs["ours (torch, no overlap)"] = run_ours(args.scenes, args.limit, "torch", overlap=False)
    runs["ours (torch, all re-read)"] = run_ours(
        args.scenes, args.limit, "torch", overlap=True, line_reader_trust=None
    )
    runs["ours (torch, int8 det)"] = run_ours(
        args.scenes, args.limit, "torch", overlap=True, detector="default-int8"
    )
    baseline = runs["rapidocr"][0].images / runs["rapidocr"][1]
    print(f"\n{runs['rapidocr'][0].images} photos, {args.threads} threads")
    print(f"{'engine':26} {'images/s':>9} {'vs RapidOCR':>12} {'det H':>7} {'e2e H':>7}")
    for name, (report, elapsed) in runs.items():
        speed = report.images / elapsed
        print(
            f"{name:26} {speed:9.2f} {speed / baseline:11.2f}x "
            f"{report.detection.hmean:7.3f} {report.end_to_end.hmean:7.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
