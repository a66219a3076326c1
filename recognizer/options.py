"""Command-line options that choose and run a recognizer.

Shared by ``python -m recognizer`` and ``ocr-pipeline``, so that one thing has one name in
both: ``--recognizer``, ``--recognizer-backend``, ``--recognizer-precision``,
``--trust-checkpoint``, ``--device`` and ``--batch-size``.
"""

from __future__ import annotations

import argparse

from .interface import BACKENDS, KNOWN_NAMES, PRECISIONS


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def device_name(text: str) -> str:
    """An argparse type: a torch device that exists on this machine."""
    if text == "cpu":
        return text  # always there; and checking it would load PyTorch for every --help
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a torch device (cpu, cuda, cuda:0, mps ...)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: CUDA is not available here; use cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text}: MPS is not available here; use cpu")
    return text


def add_recognizer_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--recognizer",
        default="default",
        help=f"recognizer name ({', '.join(KNOWN_NAMES)}), checkpoint file or folder, or ONNX "
        "export folder (default: %(default)s)",
    )
    parser.add_argument(
        "--recognizer-backend",
        choices=BACKENDS,
        default="torch",
        help="torch: PyTorch, exact; onnx: ONNX Runtime on the CPU, exported on first use into "
        "the models folder; onnx-int8: the same with an int8 image encoder (default: %(default)s)",
    )
    parser.add_argument(
        "--recognizer-precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32: exact; bf16: bfloat16 autocast, for GPUs and CPUs with AMX/AVX-512 BF16 "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=64,
        help="word crops per recognizer batch (default: 64)",
    )
    parser.add_argument(
        "--device", type=device_name, default="cpu", help="torch device, e.g. cpu or cuda:0"
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow recognizer checkpoints that need full unpickling (only files you trust)",
    )


def add_former_names(parser: argparse.ArgumentParser) -> None:
    """Earlier names of the options (``--checkpoint``, ``--backend``, ``--precision``), still
    accepted so that existing scripts run, and left out of ``--help``."""
    for former, dest in (
        ("--checkpoint", "recognizer"),
        ("--backend", "recognizer_backend"),
        ("--precision", "recognizer_precision"),
    ):
        parser.add_argument(former, dest=dest, help=argparse.SUPPRESS)


def load_from_options(args: argparse.Namespace):
    """The recognizer the parsed options describe (see ``recognizer.load``)."""
    from .hub import load

    return load(
        args.recognizer,
        device=args.device,
        trust_checkpoint=args.trust_checkpoint,
        backend=args.recognizer_backend,
        precision=args.recognizer_precision,
    )
