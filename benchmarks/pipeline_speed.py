"""Pipeline speed and accuracy on real photos, against RapidOCR on the same images.

    python benchmarks/pipeline_speed.py                   # the 100 ICDAR 2015 photos
    python benchmarks/pipeline_speed.py --limit 20 --threads 2 --rounds 1

One command, one machine state: our pipeline with the default models (PyTorch recognizer,
then the ONNX Runtime recognizer, then PyTorch without the background detection thread, then
PyTorch with every word read by the recognizer, ``line_reader_trust=None``, then PyTorch
with the 8-bit copy of PP-OCR's detection model, ``default-int8``) and
RapidOCR (PP-OCR models bundled with its wheel, run by ONNX Runtime) read the same photos.
Every engine is loaded (and warmed on one photo) first; then each round times every engine
on all the photos, in an order turned by one place each round, so that no engine always
runs first or last (a process speeds up over its first minutes: a row run later gains).
Printed per engine: its best round's images/s, the ratio to RapidOCR's best, every round's
images/s, and detection and end-to-end word H-mean (IoU >= 0.5, texts compared lowercase
alphanumeric; ``pipeline.evaluation``). RapidOCR reports lines; it is scored on its word
boxes (``return_word_box``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SCENES = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "scenes.jsonl"

from pipeline.evaluation import SceneReport, evaluate_scenes, read_scenes, score_scene  # noqa: E402


def ours(scenes_file: Path, limit: int | None, backend: str, overlap: bool, **settings):
    """A function reading the photos with our pipeline, loaded and warmed."""
    from pipeline import OCRPipeline

    pipeline = OCRPipeline(recognizer_backend=backend, **settings)
    warm = read_scenes(scenes_file, 1)[0]["file"]
    pipeline.ocr(warm)  # model loading, ONNX export and first-run allocations are not timed
    return lambda: evaluate_scenes(pipeline, scenes_file, limit=limit, overlap=overlap)


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


def rapidocr(scenes_file: Path, limit: int | None, threads: int):
    """A function reading the photos with RapidOCR, loaded and warmed."""
    engine = rapidocr_engine(threads)
    scenes = read_scenes(scenes_file, limit)
    engine(scenes[0]["file"], return_word_box=True)

    def run() -> SceneReport:
        report = SceneReport()
        for scene in scenes:
            polygons, texts = rapidocr_words(engine(scene["file"], return_word_box=True))
            score_scene(report, scene, polygons, texts)
        return report

    return run


def time_rounds(
    engines: dict[str, Callable[[], SceneReport]], rounds: int
) -> dict[str, tuple[SceneReport, list[float]]]:
    """Each engine's report and its images/s in each round; round r runs the engines in
    their given order turned by r places."""
    names = list(engines)
    speeds: dict[str, list[float]] = {name: [] for name in names}
    reports: dict[str, SceneReport] = {}
    for r in range(rounds):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            started = time.perf_counter()
            reports[name] = engines[name]()
            speeds[name].append(reports[name].images / (time.perf_counter() - started))
    return {name: (reports[name], speeds[name]) for name in names}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, default=SCENES)
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=2, help="times each engine reads the photos (best kept)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    engines = {
        "rapidocr": rapidocr(args.scenes, args.limit, args.threads),
        "ours (torch)": ours(args.scenes, args.limit, "torch", overlap=True),
        "ours (onnx)": ours(args.scenes, args.limit, "onnx", overlap=True),
        "ours (torch, no overlap)": ours(args.scenes, args.limit, "torch", overlap=False),
        "ours (torch, all re-read)": ours(
            args.scenes, args.limit, "torch", overlap=True, line_reader_trust=None
        ),
        "ours (torch, int8 det)": ours(
            args.scenes, args.limit, "torch", overlap=True, detector="default-int8"
        ),
    }
    runs = time_rounds(engines, args.rounds)
    baseline = max(runs["rapidocr"][1])
    print(f"\n{runs['rapidocr'][0].images} photos, {args.threads} threads, {args.rounds} rounds")
    print(f"{'engine':26} {'images/s':>9} {'vs RapidOCR':>12} {'det H':>7} {'e2e H':>7}  rounds")
    for name, (report, speeds) in runs.items():
        best = max(speeds)
        print(
            f"{name:26} {best:9.2f} {best / baseline:11.2f}x "
            f"{report.detection.hmean:7.3f} {report.end_to_end.hmean:7.3f}  "
            + " ".join(f"{speed:.2f}" for speed in speeds)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
