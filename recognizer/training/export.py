"""Export a training run's model for shipping: ``python -m recognizer.training.export RUN TARGET``.

Takes ``RUN/best/`` (the checkpoint chosen on the validation split) or, with ``--last``,
the model in ``RUN/last.pt``, and writes ``TARGET/model.safetensors`` + ``config.json``,
float16 by default (half the size; the model computes in float32 after loading), plus the
run's ``training.json`` figures and the training-only CTC head (``ctc_head.safetensors``,
about 75 kB for the default model), which ``python -m recognizer.training --init TARGET`` loads
so that a further run does not start that head from random weights. The head comes from
``best/`` or, for runs whose ``best/`` lacks it, from ``last.pt``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from ..config import CLIP4STRConfig
from ..model import CLIP4STR
from .objective import CTC_HEAD_FILE, save_ctc_head


def load_last(run: Path) -> dict:
    return torch.load(run / "last.pt", map_location="cpu", weights_only=True)


def objective_part(state: dict, prefix: str) -> dict[str, torch.Tensor]:
    """The weights of one part of the training objective (``model.``, ``ctc_head.``)."""
    return {k[len(prefix) :]: v for k, v in state["objective"].items() if k.startswith(prefix)}


def model_from_last(state: dict) -> tuple[CLIP4STR, dict]:
    model = CLIP4STR(CLIP4STRConfig.from_dict(state["config"]))
    model.load_state_dict(objective_part(state, "model."))
    info = {k: state[k] for k in ("step", "samples_seen", "train_seconds")}
    return model, info


def export(run: Path, target: Path, last: bool = False, dtype: torch.dtype = torch.float16):
    best_head = run / "best" / CTC_HEAD_FILE
    head_from_best = not last and best_head.is_file()
    # last.pt is read once, and only when the model or the head comes from it.
    needs_last = last or (not head_from_best and (run / "last.pt").is_file())
    state = load_last(run) if needs_last else None
    if last:
        model, info = model_from_last(state)
    else:
        model = CLIP4STR.from_checkpoint(run / "best")
        info = json.loads((run / "best" / "training.json").read_text())
    if target.exists():
        shutil.rmtree(target)
    model.save_pretrained(target, dtype=dtype)
    (target / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    if head_from_best:
        shutil.copyfile(best_head, target / CTC_HEAD_FILE)
    elif state is not None and (head := objective_part(state, "ctc_head.")):
        save_ctc_head(head, target)
    for path in target.iterdir():
        path.chmod(0o644)  # safetensors writes owner-only files; these are shipped
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m recognizer.training.export",
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
