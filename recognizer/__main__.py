"""Command line: ``python -m recognizer read CROP...``, ``eval`` and ``export-onnx``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .checkpoint import CheckpointError
from .hub import WeightsUnavailableError, load
from .images import ImageError, as_rgb_image
from .metrics import WordAccuracy, word_accuracy
from .onnx_backend import OnnxExportError, export_onnx
from .options import add_former_names, add_recognizer_options, load_from_options


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    add_recognizer_options(parser)
    add_former_names(parser)
    parser.add_argument(
        "--refine-iters",
        type=int,
        default=None,
        help="refinement iterations (default: the model's own, 1 for released models)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recognizer", description="CLIP4STR scene text recognition on word crops."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("read", help="print the text and confidence of each crop")
    read.add_argument("crops", nargs="+", type=Path, help="word crop images")
    _add_model_options(read)
    evaluate = commands.add_parser("eval", help="word accuracy on a labelled folder")
    evaluate.add_argument(
        "--data",
        type=Path,
        required=True,
        help="folder with labels.tsv (relative image path TAB label per line)",
    )
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N crops")
    _add_model_options(evaluate)
    export = commands.add_parser(
        "export-onnx", help="write the recognizer as ONNX graphs for ONNX Runtime"
    )
    export.add_argument(
        "--recognizer", "--checkpoint", default="default", help="checkpoint or known name"
    )
    export.add_argument("--out", type=Path, required=True, help="folder to write")
    export.add_argument("--trust-checkpoint", action="store_true")
    export.add_argument(
        "--int8", action="store_true", help="quantize the image encoder to int8 (faster)"
    )
    return parser


def run_read(args: argparse.Namespace) -> int:
    model = load_from_options(args)
    failed = 0
    paths, images = [], []
    for path in args.crops:
        try:
            images.append(as_rgb_image(path))
            paths.append(path)
        except ImageError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
    readings = model.read(images, refine_iters=args.refine_iters, batch_size=args.batch_size)
    for path, reading in zip(paths, readings):
        print(f"{path}\t{reading.text}\t{reading.confidence:.4f}")
    return 1 if failed else 0


def read_labels(data: Path, limit: int | None) -> list[tuple[Path, str]]:
    labels_file = data / "labels.tsv"
    if not labels_file.is_file():
        raise FileNotFoundError(f"{labels_file}: no labels file (expected 'path<TAB>label' lines)")
    rows = []
    for line in labels_file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rel, label = line.split("\t")[:2]
        rows.append((data / rel, label))
    return rows[:limit] if limit else rows


def evaluate_folder(
    model, data: Path, limit: int | None = None, batch_size: int = 64, refine_iters=None
) -> tuple[WordAccuracy, float]:
    """Word accuracy of ``model`` on a folder with ``labels.tsv``, and its crops per second."""
    rows = read_labels(data, limit)
    start = time.perf_counter()
    readings = model.read([p for p, _ in rows], refine_iters=refine_iters, batch_size=batch_size)
    elapsed = time.perf_counter() - start
    accuracy = word_accuracy([r.text for r in readings], [label for _, label in rows])
    return accuracy, accuracy.total / elapsed


def run_export(args: argparse.Namespace) -> int:
    model = load(args.recognizer, trust_checkpoint=args.trust_checkpoint)
    export_onnx(model, args.out, int8=args.int8)
    print(f"wrote {args.out} (use it with --recognizer-backend onnx --recognizer {args.out})")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    model = load_from_options(args)
    accuracy, speed = evaluate_folder(
        model, args.data, args.limit, args.batch_size, args.refine_iters
    )
    print(f"crops: {accuracy.total}")
    print(f"word accuracy (lowercase alphanumeric): {accuracy.alnum:.4f}")
    print(f"word accuracy (case-sensitive): {accuracy.exact:.4f}")
    print(f"speed: {speed:.1f} crops/s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {"read": run_read, "eval": run_eval, "export-onnx": run_export}
        return commands[args.command](args)
    except (
        CheckpointError,
        WeightsUnavailableError,
        FileNotFoundError,
        OnnxExportError,
        ValueError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
