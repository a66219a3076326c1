"""Train a CLIP4STR recognizer on rendered words plus real crops, resumably, on CPU or GPU.

    python -m recognizer.training --out runs/default --steps 60000 \\
        --real ../shared/data/real_train

Progress goes to ``OUT/train.log``; ``OUT/last.pt`` is rewritten every ``--checkpoint-every``
steps and when the run stops (``--max-minutes``, Ctrl-C, SIGTERM or a file ``OUT/STOP``).
Running the same command again resumes from ``OUT/last.pt``. Checkpoints are chosen on a
validation split carved out of the real training crops (never on a test set); the best one
is exported with ``save_pretrained`` to ``OUT/best/``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import signal
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from ..clip_backbone import SMALL_CONV, TEXTLINE_SMALL
from ..config import CLIP4STRConfig
from ..images import RESIZE_MODES
from ..metrics import word_accuracy
from ..model import CLIP4STR
from ..textline_encoder import load_onnx_weights
from .objective import (
    PermutationObjective,
    grow_image_tower,
    load_ctc_head,
    pass_through,
    save_ctc_head,
)


@dataclass
class Schedule:
    """Curriculum over the run, as fractions of the total number of steps."""

    steps: int
    # Text curriculum stages (see synth.words.CURRICULUM) start at these fractions.
    stage_starts: tuple[float, ...] = (0.0, 0.05, 0.15)
    # Render difficulty rises linearly from 0.1 to 1.0 over this fraction.
    difficulty_ramp: float = 0.35
    # Share of real crops in a batch: none at first, then some, more at the end.
    real_phases: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.1, 0.2), (0.85, 0.5))

    def stage(self, step: int) -> int:
        fraction = step / self.steps
        return max(i for i, start in enumerate(self.stage_starts) if fraction >= start)

    def difficulty(self, step: int) -> float:
        return min(1.0, 0.1 + 0.9 * step / max(1, self.difficulty_ramp * self.steps))

    def real_ratio(self, step: int) -> float:
        fraction = step / self.steps
        return [ratio for start, ratio in self.real_phases if fraction >= start][-1]


def parse_real_phases(text: str) -> tuple[tuple[float, float], ...]:
    """``"0:0,0.1:0.2"`` -> ((0.0, 0.0), (0.1, 0.2)): (start fraction, share of real crops)."""
    try:
        phases = tuple(
            (float(start), float(share))
            for start, share in (item.split(":") for item in text.split(","))
        )
    except ValueError:
        raise SystemExit(
            f"--real-phases {text!r}: expected START:SHARE,... e.g. 0:0.2,0.85:0.5"
        ) from None
    starts = [start for start, _ in phases]
    if starts[0] != 0 or starts != sorted(starts) or not all(0 <= s <= 1 for _, s in phases):
        raise SystemExit(
            f"--real-phases {text!r}: the first phase starts at 0, starts increase,"
            " and shares lie between 0 and 1"
        )
    return phases


def split_real_crops(root: Path, out: Path, val_size: int) -> tuple[Path, Path]:
    """Deterministic train/validation label files (by hash of the crop path)."""
    lines = [
        line for line in (root / "labels.tsv").read_text(encoding="utf-8").splitlines() if line
    ]
    ranked = sorted(lines, key=lambda line: hashlib.sha1(line.split("\t")[0].encode()).hexdigest())
    val, train = ranked[:val_size], ranked[val_size:]
    train_file, val_file = out / "real_train_split.tsv", out / "real_val_split.tsv"
    train_file.write_text("\n".join(train) + "\n", encoding="utf-8")
    val_file.write_text("\n".join(val) + "\n", encoding="utf-8")
    return train_file, val_file


def on_textline_encoder(model: CLIP4STR, image_width: int = 128) -> tuple[CLIP4STR, Path]:
    """``model``'s text tower and decoders over PP-OCRv6 small's pre-trained text-line
    encoder (from the installed ``rapidocr`` wheel) reading ``48 x image_width`` inputs, with
    a new projection and positions and transformer blocks that start as the identity."""
    width = model.config.clip.embed_dim
    arch = replace(
        TEXTLINE_SMALL,
        image_size=(TEXTLINE_SMALL.image_size[0], image_width),
        embed_dim=width,
        vision_width=width,
        **{
            name: getattr(model.config.clip, name)
            for name in ("text_width", "text_layers", "text_heads", "text_mlp_ratio")
            + ("context_length", "vocab_size")
        },
    )
    grown = CLIP4STR(replace(model.config, clip=arch))
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith("clip_model.visual.")}
    missing, unexpected = grown.load_state_dict(kept, strict=False)
    if unexpected or any(not k.startswith("clip_model.visual.") for k in missing):
        raise SystemExit(f"cannot carry the --init model over: {unexpected or missing}")
    source = load_onnx_weights(grown.clip_model.visual.encoder)
    for block in grown.clip_model.visual.transformer.resblocks:
        pass_through(block)
    return grown, source


def parameter_groups(model: CLIP4STR, lr: float, decoder_lr_scale: float, weight_decay: float):
    """AdamW groups: no decay for norms, biases, embeddings and position queries."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        in_decoder = not name.startswith("clip_model.")
        no_decay = (
            param.ndim <= 1
            or "embedding" in name
            or "pos_queries" in name
            or name.endswith("class_embedding")
        )
        groups.setdefault((in_decoder, no_decay), []).append(param)
    return [
        {
            "params": params,
            "lr": lr * (decoder_lr_scale if in_decoder else 1.0),
            "weight_decay": 0.0 if no_decay else weight_decay,
        }
        for (in_decoder, no_decay), params in groups.items()
    ]


class WeightAverage:
    """An exponential moving average of a model's weights, validated beside the model itself.

    Parameters move towards the trained ones by ``1 - d`` each step, where the decay ``d``
    grows as ``(1 + n) / (10 + n)`` after ``n`` updates until it reaches ``decay``: early on,
    the average spans the last ~n/9 steps instead of holding on to the starting weights
    (0.998 is reached after ~4,500 updates). Buffers such as BatchNorm statistics are copied
    as they are.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0 < decay < 1:
            raise SystemExit(f"--ema {decay}: the decay lies between 0 and 1, e.g. 0.998")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        weight = 1.0 - self.current_decay()
        averaged, trained = list(self.model.parameters()), list(model.parameters())
        torch._foreach_lerp_(averaged, trained, weight)
        for mine, theirs in zip(self.model.buffers(), model.buffers(), strict=True):
            mine.copy_(theirs)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = state["updates"]


class Trainer:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.log_file = (self.out / "train.log").open("a", encoding="utf-8")
        self.stop_requested = False
        torch.manual_seed(args.seed)
        last = self.out / "last.pt"
        saved = (
            torch.load(last, map_location=args.device, weights_only=True)
            if last.is_file()
            else None
        )
        self.model = self._build_model(saved).to(args.device)
        self.model.freeze_text_layers(args.freeze_text_layers)
        if self.model.config.clip.image_tower == "textline" and not args.train_image_encoder:
            self.model.freeze_image_encoder()
        self.objective = PermutationObjective(
            self.model, num_orders=args.orders, ctc_weight=args.ctc_weight, seed=args.seed
        ).to(args.device)
        head = self.objective.ctc_head
        if head is not None and args.init and Path(args.init).is_dir() and saved is None:
            self.log(load_ctc_head(head, Path(args.init)))
        groups = parameter_groups(self.model, args.lr, args.decoder_lr_scale, args.weight_decay)
        if self.objective.ctc_head is not None:
            groups.append(
                {
                    "params": self.objective.ctc_head.parameters(),
                    "lr": args.lr,
                    "weight_decay": args.weight_decay,
                }
            )
        self.optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.98), eps=1e-6)
        self.average = WeightAverage(self.model, args.ema) if args.ema else None
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer,
            max_lr=[g["lr"] for g in groups],
            total_steps=args.steps,
            pct_start=args.warmup,
            anneal_strategy="cos",
            cycle_momentum=False,
        )
        self.schedule = Schedule(
            args.steps,
            stage_starts=tuple(float(x) for x in args.stage_starts.split(",")),
            difficulty_ramp=args.difficulty_ramp,
            real_phases=parse_real_phases(args.real_phases),
        )
        self.step = 0
        self.best = -1.0
        self.samples_seen = 0
        self.train_seconds = 0.0
        if saved is not None:
            self._resume(saved)

    def _build_model(self, saved: dict | None) -> CLIP4STR:
        if saved is not None:
            # A resumed run takes its shape from last.pt, whose weights fill it: --init may
            # have been overwritten since (an export of this very run), or grown already.
            config = CLIP4STRConfig.from_dict(saved["config"])
            if self.args.resize and self.args.resize != config.resize:
                raise SystemExit(
                    f"{self.out / 'last.pt'} fits crops by {config.resize!r}, not --resize "
                    f"{self.args.resize}: leave --resize out to resume, or use a new --out folder"
                )
            return CLIP4STR(config)
        if self.args.init:
            model = CLIP4STR.from_checkpoint(self.args.init, trust_checkpoint=False)
            if self.args.grow_image_layers:
                model = grow_image_tower(model, self.args.grow_image_layers)
                self.log(
                    f"image tower grown by {self.args.grow_image_layers} identity blocks"
                    f" to {model.config.clip.vision_layers}"
                )
            if self.args.image_tower == "textline":
                model, source = on_textline_encoder(model, self.args.image_width)
                self.log(f"image tower: the pre-trained text-line encoder of {source}")
            if self.args.resize and self.args.resize != model.config.resize:
                self.log(f"crops fitted to the input: {model.config.resize} -> {self.args.resize}")
                model.config = replace(model.config, resize=self.args.resize)
            return model
        if self.args.grow_image_layers:
            raise SystemExit("--grow-image-layers needs --init: the model to grow")
        config = CLIP4STRConfig(
            clip=SMALL_CONV, decoder_heads=6, refine_iters=1, resize=self.args.resize or "stretch"
        )
        return CLIP4STR(config)

    # ------------------------------------------------------------------ state

    def _resume(self, state: dict) -> None:
        path = self.out / "last.pt"
        self.objective.load_state_dict(state["objective"])
        lr_keys = ("initial_lr", "max_lr", "min_lr")
        fresh_groups = [{k: g[k] for k in lr_keys} for g in self.optimizer.param_groups]
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.best = state["step"], state["best"]
        self.samples_seen, self.train_seconds = state["samples_seen"], state["train_seconds"]
        self.objective.generator.set_state(state["generator"])
        if self.average is not None:
            if state.get("average") is not None:
                self.average.load_state_dict(state["average"])
            else:
                self.average = WeightAverage(self.model, self.args.ema)
                self.log("no weight average in the checkpoint: it starts from the current weights")
        self.log(f"resumed from {path} at step {self.step}")
        planned = state["scheduler"]["total_steps"]
        if planned == self.args.steps:
            self.scheduler.load_state_dict(state["scheduler"])
            return
        if self.step >= self.args.steps:
            raise SystemExit(
                f"{path} is at step {self.step}, past --steps {self.args.steps}:"
                " pass a larger --steps to train on, or use a new --out folder"
            )
        # A run resumed with another --steps follows the one-cycle curve of the new length
        # from its current step on (optimizer moments kept).
        self._fast_forward_schedule(self.step, fresh_groups)
        self.log(
            f"schedule changed from {planned} to {self.args.steps} steps:"
            f" learning rate now {self.scheduler.get_last_lr()[0]:.2e}"
        )

    def _fast_forward_schedule(self, step: int, fresh_groups: list[dict]) -> None:
        for group, fresh in zip(self.optimizer.param_groups, fresh_groups, strict=True):
            group.update(fresh)
        self.scheduler.last_epoch = step - 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # step() before optimizer.step()
            self.scheduler.step()

    def save(self) -> None:
        state = {
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "best": self.best,
            "samples_seen": self.samples_seen,
            "train_seconds": self.train_seconds,
            "generator": self.objective.generator.get_state(),
            "average": self.average.state_dict() if self.average is not None else None,
            "config": self.model.config.to_dict(),
            "args": vars(self.args),
        }
        tmp = self.out / "last.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.out / "last.pt")

    def log(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        print(line, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    # ------------------------------------------------------------------ evaluation

    def validate(self, val_file: Path, model: CLIP4STR | None = None) -> float:
        model = self.model if model is None else model
        rows = [line.split("\t") for line in val_file.read_text().splitlines() if line]
        root = Path(self.args.real)
        readings = model.read([root / r[0] for r in rows], batch_size=128)
        accuracy = word_accuracy([r.text for r in readings], [r[1] for r in rows])
        return accuracy.alnum

    def export_best(self, accuracy: float, model: CLIP4STR | None = None) -> None:
        """Export ``model`` (the trained weights, or their average) as the best so far."""
        model = self.model if model is None else model
        self.best = accuracy
        folder = model.save_pretrained(self.out / "best")
        if self.objective.ctc_head is not None:
            save_ctc_head(self.objective.ctc_head.state_dict(), folder)
        info = {
            "step": self.step,
            "val_accuracy_alnum": accuracy,
            "weights": "trained" if model is self.model else f"average (decay {self.args.ema})",
            "samples_seen": self.samples_seen,
            "train_seconds": self.train_seconds,
        }
        (folder / "training.json").write_text(json.dumps(info, indent=2) + "\n")

    # ------------------------------------------------------------------ loop

    def _open_stream(self, train_file: Path | None, real_ratio: float):
        from .synth.fonts import DEFAULT_FONT_DIRS
        from .synth.stream import RealCropDataset, SynthStream

        cfg = self.model.config
        real = None
        if train_file is not None and real_ratio > 0:
            real = RealCropDataset(
                self.args.real,
                cfg.image_size,
                cfg.image_mean,
                cfg.image_std,
                charset=cfg.charset,
                max_length=cfg.max_label_length,
                augment=self.args.real_augment,
                # Absolute: a relative run folder is not relative to the crops' folder.
                labels_file=str(train_file.resolve()),
                resize=cfg.resize,
            )
        stream = SynthStream(
            batch_size=self.args.batch_size,
            image_size=cfg.image_size,
            seed=self.args.seed + self.step,
            difficulty=self.schedule.difficulty(self.step),
            stage=self.schedule.stage(self.step),
            num_workers=self.args.workers,
            real=real,
            real_ratio=real_ratio if real else 0.0,
            mean=cfg.image_mean,
            std=cfg.image_std,
            resize=cfg.resize,
            max_length=cfg.max_label_length,
            font_dirs=self.args.font_dirs or DEFAULT_FONT_DIRS,
        )
        stream.start()
        return stream

    def run(self) -> None:
        args = self.args
        train_file = val_file = None
        if args.real:
            train_file, val_file = split_real_crops(Path(args.real), self.out, args.val_size)
        deadline = time.monotonic() + args.max_minutes * 60 if args.max_minutes else math.inf
        ratio = self.schedule.real_ratio(self.step)
        stream = self._open_stream(train_file, ratio)
        self.log(f"training from step {self.step} to {args.steps}: {json.dumps(vars(args))}")
        window_start, window_samples = time.monotonic(), 0
        try:
            while self.step < args.steps and not self._should_stop(deadline):
                if self.schedule.real_ratio(self.step) != ratio:
                    stream.close()
                    ratio = self.schedule.real_ratio(self.step)
                    stream = self._open_stream(train_file, ratio)
                stream.stage = self.schedule.stage(self.step)
                stream.difficulty = self.schedule.difficulty(self.step)
                images, labels = stream.next_batch(timeout=600)
                started = time.monotonic()
                parts = self._train_step(images.to(args.device), labels)
                self.train_seconds += time.monotonic() - started
                self.step += 1
                self.samples_seen += len(labels)
                window_samples += len(labels)
                if self.step % args.log_every == 0:
                    rate = window_samples / (time.monotonic() - window_start)
                    loss = float(parts.total.detach())
                    self.log(
                        f"step {self.step} loss {loss:.4f} visual {parts.visual:.4f}"
                        f" cross {parts.cross:.4f} ctc {parts.ctc:.4f}"
                        f" lr {self.scheduler.get_last_lr()[0]:.2e} stage {stream.stage}"
                        f" difficulty {stream.difficulty:.2f} real {ratio:.2f} {rate:.1f} samples/s"
                    )
                    window_start, window_samples = time.monotonic(), 0
                if self.step % args.checkpoint_every == 0:
                    self.save()
                if val_file is not None and self.step % args.eval_every == 0:
                    self._evaluate(val_file)
        finally:
            stream.close()
            self.save()
            self.log(f"stopped at step {self.step} (checkpoint {self.out / 'last.pt'})")
        if self.step >= args.steps and val_file is not None and self.step % args.eval_every:
            self._evaluate(val_file)

    def _evaluate(self, val_file: Path) -> None:
        trained = self.validate(val_file)
        self.model.train()
        candidate, accuracy, averaged_note = self.model, trained, ""
        if self.average is not None:
            averaged = self.validate(val_file, self.average.model)
            averaged_note = f" average {averaged:.4f}"
            if averaged > trained:
                candidate, accuracy = self.average.model, averaged
        if accuracy > self.best:
            self.export_best(accuracy, candidate)
            self.save()
        self.log(
            f"step {self.step} validation accuracy {trained:.4f}{averaged_note}"
            f" (best {self.best:.4f})"
        )

    def _train_step(self, images: torch.Tensor, labels: list[str]):
        self.objective.train()
        with torch.autocast(
            torch.device(self.args.device).type,
            dtype=torch.bfloat16,
            enabled=self.args.precision == "bf16",
        ):
            parts = self.objective(images, labels)
        self.optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        nn.utils.clip_grad_norm_(self.objective.parameters(), self.args.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        if self.average is not None:
            self.average.update(self.model)
        return parts

    def _should_stop(self, deadline: float) -> bool:
        if (self.out / "STOP").exists():
            self.log("STOP file found")
            return True
        return self.stop_requested or time.monotonic() > deadline

    def request_stop(self, *_args) -> None:
        self.stop_requested = True


def build_parser() -> argparse.ArgumentParser:
    from .synth.stream import AUGMENTATIONS

    p = argparse.ArgumentParser(
        prog="python -m recognizer.training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, help="run folder (log, checkpoints, best model)")
    p.add_argument("--steps", type=int, default=60000, help="total optimizer steps")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the encoder")
    p.add_argument(
        "--decoder-lr-scale",
        type=float,
        default=1.0,
        help="decoder LR / encoder LR (19 when fine-tuning a pre-trained CLIP)",
    )
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup", type=float, default=0.075, help="warm-up fraction (one-cycle)")
    p.add_argument("--grad-clip", type=float, default=20.0)
    p.add_argument(
        "--ema",
        type=float,
        default=None,
        metavar="DECAY",
        help="also keep an exponential moving average of the weights (e.g. 0.998); each"
        " validation scores both, and the better one is exported",
    )
    p.add_argument("--orders", type=int, default=6, help="factorization orders per batch")
    p.add_argument("--ctc-weight", type=float, default=0.5, help="auxiliary CTC loss (0: off)")
    p.add_argument(
        "--freeze-text-layers",
        type=int,
        default=0,
        help="frozen text blocks (6 when fine-tuning a pre-trained CLIP)",
    )
    p.add_argument(
        "--stage-starts",
        default="0,0.05,0.15",
        help="fractions of the run where text curriculum stages 0,1,2 begin",
    )
    p.add_argument(
        "--real-phases",
        default="0:0,0.1:0.2,0.85:0.5",
        help="START:SHARE,...: from each fraction of the run on, this share of every batch is"
        " real crops (with --real)",
    )
    p.add_argument(
        "--difficulty-ramp",
        type=float,
        default=0.35,
        help="fraction of the run over which render difficulty rises to 1",
    )
    p.add_argument("--init", default=None, help="start from this checkpoint instead of scratch")
    p.add_argument(
        "--resize",
        choices=RESIZE_MODES,
        default=None,
        help="how crops are fitted to the input size (default: --init's, else stretch)",
    )
    p.add_argument(
        "--grow-image-layers",
        type=int,
        default=0,
        help="add this many transformer blocks (starting as the identity) to the --init"
        " model's image tower",
    )
    p.add_argument(
        "--image-tower",
        choices=("textline",),
        default=None,
        help="textline: put the --init model's text tower and decoders on PP-OCRv6 small's"
        " pre-trained text-line encoder (from the installed rapidocr wheel), 48 x --image-width"
        " input",
    )
    p.add_argument(
        "--image-width",
        type=int,
        default=128,
        help="with --image-tower textline: input width in pixels, a multiple of 8 (one"
        " feature per 8 pixels; 128 gives 16, 192 gives 24 for words of up to 25 characters)",
    )
    p.add_argument(
        "--train-image-encoder",
        action="store_true",
        help="fine-tune the pre-trained text-line encoder too (by default it stays frozen)",
    )
    p.add_argument("--real", default=None, help="folder of real labelled crops (labels.tsv)")
    p.add_argument(
        "--real-augment",
        choices=tuple(AUGMENTATIONS),
        default="light",
        help="augmentation of the real crops: light (tilt, crop jitter, light, blur, JPEG) or"
        " strong (also perspective, inverted or gray colors and the renderer's camera effects)",
    )
    p.add_argument("--val-size", type=int, default=600, help="real crops held out for selection")
    p.add_argument("--workers", type=int, default=1, help="rendering processes")
    p.add_argument(
        "--font-dirs",
        nargs="+",
        metavar="DIR",
        help="folders of .ttf/.otf fonts to render with (default: the system's font folders)",
    )
    p.add_argument("--threads", type=int, default=2, help="torch threads for training")
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="bf16: autocast the forward pass (weights and optimizer stay fp32); faster on"
        " GPUs and CPUs with AMX or AVX-512 BF16, much slower on CPUs without native bf16",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--max-minutes", type=float, default=None, help="stop cleanly after this")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    trainer = Trainer(args)
    signal.signal(signal.SIGTERM, trainer.request_stop)
    signal.signal(signal.SIGINT, trainer.request_stop)
    trainer.run()


if __name__ == "__main__":
    main()
