"""Export a training run's model for shipping: ``python -m recognizer.export RUN TARGET``.

Takes ``RUN/best/`` (the checkpoint chosen on the validation split) or, with ``--last``,
the model in ``RUN/last.pt``, and writes ``TARGET/model.safetensors`` + ``config.json``,
float16 by default (half the size; the model computes in float32 after loading), plus the
run's ``training.json`` figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from .model import CLIP4STR, CLIP4STRConfig


def model_from_last(run: Path) -> tuple[CLIP4STR, dict]:
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    model = CLIP4STR(CLIP4STRConfig.from_dict(state["config"]))
    prefix = "model."
    weights = {k[len(prefix) :]: v for k, v in state["objective"].items() if k.startswith(prefix)}
    model.load_state_dict(weights)
    info = {k: state[k] for k in ("step", "samples_seen", "train_seconds")}
    return model, info


def export(run: Path, target: Path, last: bool = False, dtype: torch.dtype = torch.float16):
    if last:
        model, info = model_from_last(run)
    else:
        model = CLIP4STR.from_checkpoint(run / "best")
        info = json.loads((run / "best" / "training.json").read_text())
    if target.exists():
        shutil.rmtree(target)
    model.save_pretrained(target, dtype=dtype)
    (target / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m recognizer.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", type=Path, help="training run folder")
    parser.add_argument("target", type=Path, help="folder to write (replaced if it exists)")
    parser.add_argument("--last", action="store_true", help="export last.pt, not best/")
    parser.add_argument("--float32", action="store_true", help="keep float32 weights")
    args = parser.parse_args(argv)
    dtype = torch.float32 if args.float32 else torch.float16
    print(export(args.run, args.target, last=args.last, dtype=dtype))


if __name__ == "__main__":
    main()
