"""Export a training run's model for shipping: ``python -m recognizer.export RUN TARGET``.

Takes ``RUN/best/`` (the checkpoint chosen on the validation split) or, with ``--last``,
the model in ``RUN/last.pt``, and writes ``TARGET/model.safetensors`` + ``config.json``,
float16 by default (half the size; the model computes in float32 after loading), plus the
run's ``training.json`` figures and the training-only CTC head (``ctc_head.safetensors``, a
few hundred kB), which ``python -m recognizer.train --init TARGET`` loads so that a further run
does not start that head from random weights. The head comes from ``best/`` or, for runs whose
``best/`` lacks it, from ``last.pt``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from .model import CLIP4STR, CLIP4STRConfig
from .training import CTC_HEAD_FILE, ColumnCTCHead, save_ctc_head


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
    if not last and (run / "best" / CTC_HEAD_FILE).is_file():
        shutil.copyfile(run / "best" / CTC_HEAD_FILE, target / CTC_HEAD_FILE)
    elif (run / "last.pt").is_file():
        ctc_head_from_last(run, model, target)
    for path in target.iterdir():
        path.chmod(0o644)  # safetensors writes owner-only files; these are shipped
    return target


def ctc_head_from_last(run: Path, model: CLIP4STR, target: Path) -> None:
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    prefix = "ctc_head."
    weights = {k[len(prefix) :]: v for k, v in state["objective"].items() if k.startswith(prefix)}
    if not weights:
        return
    grid = model.config.clip.grid_size
    head = ColumnCTCHead(model.config.clip.embed_dim, model.tokenizer.num_classes, grid)
    head.load_state_dict(weights)
    save_ctc_head(head, target)


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
