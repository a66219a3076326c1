"""The ``ocr-pipeline`` command: ``run`` photos or folders, ``eval`` against ground truth."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from recognizer.checkpoint import CheckpointError
from recognizer.hub import KNOWN_NAMES, WeightsUnavailableError

from .detection import DETECTORS
from .images import IMAGE_EXTENSIONS, find_images, load_image


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    models = parser.add_argument_group("models")
    models.add_argument(
        "--detector",
        default="default",
        help=f"detector name ({', '.join(DETECTORS)}) or MMOCR config path (default: %(default)s)",
    )
    models.add_argument(
        "--detector-weights",
        default=None,
        help="detector checkpoint (default: the config's own weights)",
    )
    models.add_argument(
        "--recognizer",
        default="default",
        help=f"recognizer name ({', '.join(KNOWN_NAMES)}) or checkpoint path "
        "(default: %(default)s)",
    )
    models.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="word crops per recognizer batch (default: %(default)s)",
    )
    models.add_argument(
        "--images-per-batch",
        type=int,
        default=4,
        help="images detected together; their crops share batches",
    )
    models.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    models.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow recognizer checkpoints that need full unpickling",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocr-pipeline",
        description="Find and read the text in photos (DBNet via MMOCR + CLIP4STR).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="read one photo or every photo in a folder",
        description="Read one photo (prints its text) or a folder of photos (one JSON per "
        "photo under --out, same relative paths; finished photos are skipped).",
    )
    run.add_argument("input", type=Path, help="a photo or a folder (searched recursively)")
    run.add_argument(
        "--out", type=Path, default=None, help="output folder (required for a folder input)"
    )
    run.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="what to print for a single photo (default: %(default)s)",
    )
    run.add_argument(
        "--visualize", action="store_true", help="also write an overlay picture next to each JSON"
    )
    run.add_argument("--overwrite", action="store_true", help="redo photos already done")
    _add_model_options(run)
    evaluate = commands.add_parser(
        "eval",
        help="score against ground truth (scenes.jsonl)",
        description="Detection and end-to-end precision/recall/H-mean at IoU >= 0.5; texts "
        "compared lowercase alphanumeric; ground-truth '###' regions are don't-care.",
    )
    evaluate.add_argument("scenes", type=Path, help="scenes.jsonl (image paths relative to it)")
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N images")
    _add_model_options(evaluate)
    return parser


def _pipeline(args):
    from .core import OCRPipeline

    return OCRPipeline(
        detector=args.detector,
        recognizer=args.recognizer,
        device=args.device,
        batch_size=args.batch_size,
        detector_weights=args.detector_weights,
        trust_checkpoint=args.trust_checkpoint,
    )


def run_single(args, pipeline) -> int:
    result = pipeline.ocr(args.input)
    print(result.to_json() if args.format == "json" else result.text)
    if args.out:
        target = args.out / f"{args.input.name}.json"
        write_atomically(target, result.to_json().encode())
        if args.visualize:
            _write_overlay(args.input, result, args.out / f"{args.input.name}.overlay.jpg")
    return 0


def _write_overlay(source: Path, result, target: Path) -> None:
    import io

    from .visualize import draw_overlay

    buffer = io.BytesIO()
    draw_overlay(load_image(source), result).save(buffer, format="JPEG", quality=90)
    write_atomically(target, buffer.getvalue())


def run_folder(args, pipeline) -> int:
    from tqdm import tqdm

    if args.out is None:
        print("error: a folder input needs --out OUT", file=sys.stderr)
        return 2
    photos = find_images(args.input)
    todo = [p for p in photos if args.overwrite or not _json_path(args, p).exists()]
    skipped = len(photos) - len(todo)
    failures: list[tuple[Path, str]] = []
    bar = tqdm(total=len(todo), unit="img", desc="ocr", dynamic_ncols=True)
    for path, outcome in pipeline.ocr_many(todo, images_per_batch=args.images_per_batch):
        if isinstance(outcome, Exception):
            failures.append((path, str(outcome)))
        else:
            write_atomically(_json_path(args, path), outcome.to_json().encode())
            if args.visualize:
                _write_overlay(path, outcome, _json_path(args, path).with_suffix(".overlay.jpg"))
        bar.update(1)
    bar.close()
    done = len(todo) - len(failures)
    print(
        f"{done} photos read, {skipped} already done, {len(failures)} failed "
        f"(outputs in {args.out})",
        file=sys.stderr,
    )
    for path, reason in failures:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    return 1 if failures else 0


def _json_path(args, photo: Path) -> Path:
    relative = photo.relative_to(args.input)
    return args.out / relative.parent / f"{relative.name}.json"


def run_eval(args, pipeline) -> int:
    from .evaluation import evaluate_scenes

    started = time.perf_counter()
    report = evaluate_scenes(pipeline, args.scenes, limit=args.limit)
    elapsed = time.perf_counter() - started
    print(report.format())
    print(f"speed: {report.images / elapsed:.2f} images/s ({report.images} images)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run" and not args.input.exists():
        print(f"error: {args.input}: no such file or folder", file=sys.stderr)
        return 2
    if (
        args.command == "run"
        and args.input.is_file()
        and (args.input.suffix.lower() not in IMAGE_EXTENSIONS)
    ):
        print(
            f"note: {args.input} has an unusual extension; trying to read it anyway",
            file=sys.stderr,
        )
    try:
        pipeline = _pipeline(args)
        if args.command == "eval":
            return run_eval(args, pipeline)
        if args.input.is_dir():
            return run_folder(args, pipeline)
        return run_single(args, pipeline)
    except (WeightsUnavailableError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # ImageError and bad arguments
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
