"""Command line: ``python -m recognizer read CROP...``, ``eval`` and ``export-onnx``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .checkpoint import CheckpointError
from .decoding import PRECISIONS
from .hub import BACKENDS, KNOWN_NAMES, WeightsUnavailableError, load
from .images import ImageError, as_rgb_image
from .metrics import WordAccuracy, word_accuracy
from .onnx_backend import OnnxExportError


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        default="default",
        help=f"checkpoint file/folder or a known name ({', '.join(KNOWN_NAMES)}); "
        "default: %(default)s",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="torch: the exact PyTorch path; onnx: ONNX Runtime on the CPU, exported on first "
        "use into the models folder; onnx-int8: the same with an int8 image encoder "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32: exact; bf16: bfloat16 autocast, for GPUs and CPUs with AMX/AVX-512 BF16 "
        "(default: %(default)s)",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="crops per forward pass")
    parser.add_argument(
        "--refine-iters",
        type=int,
        default=None,
        help="refinement iterations (default: the model's own, 1 for released models)",
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow checkpoints that need full unpickling (only for files you trust)",
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
    export.add_argument("--checkpoint", default="default", help="checkpoint or known name")
    export.add_argument("--out", type=Path, required=True, help="folder to write")
    export.add_argument("--trust-checkpoint", action="store_true")
    export.add_argument(
        "--int8", action="store_true", help="quantize the image encoder to int8 (faster)"
    )
    return parser


def run_read(args: argparse.Namespace) -> int:
    model = _load(args)
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


def _load(args: argparse.Namespace):
    return load(
        args.checkpoint,
        device=args.device,
        trust_checkpoint=args.trust_checkpoint,
        backend=args.backend,
        precision=args.precision,
    )


def run_export(args: argparse.Namespace) -> int:
    from .onnx_backend import export_onnx

    model = load(args.checkpoint, trust_checkpoint=args.trust_checkpoint)
    export_onnx(model, args.out, int8=args.int8)
    print(f"wrote {args.out} (use it with --backend onnx --checkpoint {args.out})")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    model = _load(args)
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
