"""The ``ocr-pipeline`` command: ``run`` photos or folders, ``eval`` against ground truth."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from recognizer.checkpoint import CheckpointError
from recognizer.decoding import PRECISIONS
from recognizer.hub import BACKENDS, KNOWN_NAMES, WeightsUnavailableError
from recognizer.onnx_backend import OnnxExportError

from .detection import DETECTORS
from .images import IMAGE_EXTENSIONS, find_images, load_image


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give it a new file's mode
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
        "--recognizer-backend",
        choices=BACKENDS,
        default="torch",
        help="torch: PyTorch, exact; onnx: ONNX Runtime on the CPU, exported on first use; "
        "onnx-int8: the same with an int8 image encoder (default: %(default)s)",
    )
    models.add_argument(
        "--recognizer-precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32: exact; bf16: bfloat16 autocast (GPUs, CPUs with AMX/AVX-512 BF16)",
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
        "--min-confidence",
        type=float,
        default=0.0,
        help="leave out words read with a lower confidence, 0..1 (default: %(default)s)",
    )
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
        help="read photos and folders of photos",
        description="Read photos. Without --out the text of each photo is printed; with --out "
        "each photo gets a JSON file there (a folder's photos keep their relative paths) and "
        "photos whose JSON exists are skipped. Bad files are named at the end and make the "
        "exit status 1.",
    )
    run.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="a photo or a folder (searched recursively for common image extensions)",
    )
    run.add_argument(
        "--out", type=Path, default=None, help="output folder (required for a folder input)"
    )
    run.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="what to print without --out: the text, or the JSON (one line per photo when "
        "there are several) (default: %(default)s)",
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
        min_confidence=args.min_confidence,
        recognizer_backend=args.recognizer_backend,
        recognizer_precision=args.recognizer_precision,
    )


@dataclass
class Job:
    photo: Path
    target: Path | None  # its JSON file under --out, or None when printing


def plan_jobs(inputs: list[Path], out: Path | None) -> list[Job]:
    """One job per photo of the inputs; a folder's photos keep their paths relative to it.

    Photos inside ``out`` (an output folder within an input folder) are not inputs.

    Raises ``ValueError`` when two photos would be written to the same file.
    """
    jobs: list[Job] = []
    seen: set[Path] = set()
    owners: dict[Path, Path] = {}  # JSON file -> the photo it is for
    out_dir = out.resolve() if out is not None else None
    for item in inputs:
        if item.is_dir():
            # An output folder inside the input holds overlays, not photos to read.
            found = [
                (p, p.relative_to(item))
                for p in find_images(item)
                if out_dir is None or not p.resolve().is_relative_to(out_dir)
            ]
        else:
            found = [(item, Path(item.name))]
        for photo, relative in found:
            resolved = photo.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            target = out / relative.parent / f"{relative.name}.json" if out else None
            if target is not None:
                if target in owners:
                    raise ValueError(
                        f"{owners[target]} and {photo} would both be written to {target}; "
                        "read them in separate runs or with different --out folders"
                    )
                owners[target] = photo
            jobs.append(Job(photo, target))
    return jobs


def run_photos(args, pipeline, jobs: list[Job]) -> int:
    from tqdm import tqdm

    todo = [j for j in jobs if j.target is None or args.overwrite or not j.target.exists()]
    skipped = len(jobs) - len(todo)
    single = len(args.inputs) == 1 and args.inputs[0].is_file()
    show_progress = args.out is not None and not single
    failures: list[tuple[Path, str]] = []
    bar = tqdm(
        total=len(todo), unit="img", desc="ocr", dynamic_ncols=True, disable=not show_progress
    )
    targets = {j.photo: j.target for j in todo}
    photos = [j.photo for j in todo]
    for path, outcome in pipeline.ocr_many(photos, images_per_batch=args.images_per_batch):
        bar.update(1)
        if isinstance(outcome, Exception):
            failures.append((path, str(outcome)))
            continue
        target = targets[path]
        if target is not None:
            write_atomically(target, outcome.to_json().encode())
            if args.visualize:
                _write_overlay(path, outcome, target.with_suffix(".overlay.jpg"))
        if target is None or single:
            _print_result(outcome, path, args.format, several=len(photos) > 1)
    bar.close()
    if single and not failures:
        return 0
    if single:
        print(f"error: {failures[0][1]}", file=sys.stderr)
        return 1
    if args.out is not None:
        print(
            f"{len(todo) - len(failures)} photos read, {skipped} already done, "
            f"{len(failures)} failed (outputs in {args.out})",
            file=sys.stderr,
        )
    for path, reason in failures:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    return 1 if failures else 0


def _print_result(result, path: Path, fmt: str, several: bool) -> None:
    if fmt == "json":
        print(result.to_json(indent=None) if several else result.to_json())
    elif several:
        print(f"==> {path} <==\n{result.text}\n", flush=True)
    else:
        print(result.text, flush=True)


def _write_overlay(source: Path, result, target: Path) -> None:
    import io

    from .visualize import draw_overlay

    buffer = io.BytesIO()
    draw_overlay(load_image(source), result).save(buffer, format="JPEG", quality=90)
    write_atomically(target, buffer.getvalue())


def run_eval(args, pipeline) -> int:
    from .evaluation import evaluate_scenes

    started = time.perf_counter()
    report = evaluate_scenes(pipeline, args.scenes, limit=args.limit)
    elapsed = time.perf_counter() - started
    print(report.format())
    print(f"speed: {report.images / elapsed:.2f} images/s ({report.images} images)")
    return 0


def _check_run_inputs(args) -> int:
    missing = [p for p in args.inputs if not p.exists()]
    for path in missing:
        print(f"error: {path}: no such file or folder", file=sys.stderr)
    if missing:
        return 2
    if args.out is None and any(p.is_dir() for p in args.inputs):
        print("error: a folder input needs --out OUT (one JSON per photo)", file=sys.stderr)
        return 2
    for path in args.inputs:
        if path.is_file() and path.suffix.lower() not in IMAGE_EXTENSIONS:
            print(
                f"note: {path} has an unusual extension; trying to read it anyway",
                file=sys.stderr,
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            status = _check_run_inputs(args)
            if status:
                return status
            jobs = plan_jobs(args.inputs, args.out)
            return run_photos(args, _pipeline(args), jobs)
        return run_eval(args, _pipeline(args))
    except (WeightsUnavailableError, CheckpointError, OnnxExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # ImageError and bad arguments
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
