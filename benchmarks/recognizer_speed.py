"""Recognizer speed: crops/s of each execution path, as ratios against the exact path.

    python benchmarks/recognizer_speed.py                  # default model and B/16, 2 threads
    python benchmarks/recognizer_speed.py --models default --bf16
    python benchmarks/recognizer_speed.py --models default small-scratch --accuracy-crops 0

For each model (the shipped ``default`` and the CLIP4STR-B/16 architecture with random
weights, which never predicts the end token and so decodes all 26 positions: the worst case
for decoding) and each path, on real IIIT5K crops in batches of ``--batch-size``:

- ``exact``: PyTorch fp32 with incremental decoding (the default path);
- ``recompute``: the same decoding without caches, as the official implementation does it
  (every step re-runs the decoder over the whole context and re-projects the memory), the
  baseline for the decoding share;
- ``onnx``: the ONNX export run by ONNX Runtime;
- ``onnx-int8``: the same with the image encoder's matrix products quantized to int8;
- ``bf16`` (``--bf16``): PyTorch under bfloat16 autocast.

``decoding`` is the share of each path's time spent outside its image encoder (timed inside
the same runs). For the default
model the word accuracy on IIIT5K (``--accuracy-crops``, all 3000 by default) of the fast
paths is printed next to the exact path's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
IIIT5K = REPO.parent / "shared" / "data" / "iiit5k_test"

from recognizer import CLIP4STR, CLIP4STRConfig  # noqa: E402
from recognizer.clip_backbone import VIT_B16  # noqa: E402
from recognizer.decoding import DualDecoder, TorchBackend, causal_mask  # noqa: E402


class RecomputingBackend(TorchBackend):
    """Decoding without caches: the memory is passed as it is and projected again by every
    decoder call, and each step runs the decoder over the whole context so far."""

    def memory_kv(self, branch, memory):
        return memory

    def join_kv(self, first, second):
        return torch.cat([first, second], dim=1)

    def batch_of(self, memory):
        return memory.shape[0], memory.device

    def empty_context_kv(self, branch, batch):
        return None

    def step(self, branch, token, index, context, memory):
        context = token[:, None] if context is None else torch.cat([context, token[:, None]], 1)
        mask = causal_mask(index + 1, memory.device)
        decoder = self.decoders[branch]
        logits = decoder(context, memory, slice(index, index + 1), mask[index:], mask)
        return logits[:, 0], context

    def full(self, branch, context, memory, query_mask, content_mask, padding_mask):
        decoder = self.decoders[branch]
        positions = slice(0, decoder.pos_queries.shape[1])
        return decoder(context, memory, positions, query_mask, content_mask, padding_mask)


class EncoderClock:
    """Wraps an object's ``encode_image`` to add up the time spent in it."""

    def __init__(self, owner):
        self.seconds = 0.0
        encode = owner.encode_image

        def timed_encode(images):
            started = time.perf_counter()
            try:
                return encode(images)
            finally:
                self.seconds += time.perf_counter() - started

        owner.encode_image = timed_encode


class ExecutionPath:
    """One execution path: ``run(batch)`` -> logits; ``clock`` times its image encoder."""

    def __init__(self, name, run, clock, read=None):
        self.name, self.run, self.clock, self.read = name, run, clock, read


def build_paths(model: CLIP4STR, bf16: bool, workdir: Path, threads: int) -> list[ExecutionPath]:
    from recognizer.onnx_backend import OnnxRecognizer, export_onnx

    started = time.perf_counter()
    export_onnx(model, workdir / "onnx")
    print(f"  (ONNX export: {time.perf_counter() - started:.1f} s)")
    export_onnx(model, workdir / "onnx-int8", int8=True)
    runtime = OnnxRecognizer(workdir / "onnx", threads=threads)
    runtime_int8 = OnnxRecognizer(workdir / "onnx-int8", threads=threads)
    clock = EncoderClock(model)  # the PyTorch paths share the module and so the clock
    steps = model.config.max_label_length + 1
    recompute = DualDecoder(
        RecomputingBackend(model),
        model.tokenizer,
        model.clip_tokenize,
        steps,
        cross_early_exit=False,
    )
    paths = [
        ExecutionPath("exact", model, clock, lambda crops: model.read(crops)),
        ExecutionPath("recompute", recompute, clock),
        ExecutionPath("onnx", runtime, EncoderClock(runtime.backend), runtime.read),
        ExecutionPath(
            "onnx-int8", runtime_int8, EncoderClock(runtime_int8.backend), runtime_int8.read
        ),
    ]
    if bf16:

        def run_bf16(batch):
            with torch.autocast("cpu", torch.bfloat16):
                return model(batch)

        def read_bf16(crops):
            return model.read(crops, precision="bf16")

        paths.append(ExecutionPath("bf16", run_bf16, clock, read_bf16))
    return paths


def timed(path: ExecutionPath, batches) -> tuple[float, float]:
    """(total seconds, seconds in the image encoder) of one pass over ``batches``."""
    path.clock.seconds = 0.0
    started = time.perf_counter()
    for batch in batches:
        path.run(batch)
    return time.perf_counter() - started, path.clock.seconds


def crop_rows(limit: int) -> list[tuple[Path, str]]:
    from recognizer.__main__ import read_labels

    return read_labels(IIIT5K, limit)


def measure_model(name, model, args) -> dict:
    rows = crop_rows(args.batch_size * args.batches)
    batches = [
        model.preprocess([p for p, _ in rows[i : i + args.batch_size]])
        for i in range(0, len(rows), args.batch_size)
    ]
    crops = sum(b.shape[0] for b in batches)
    with tempfile.TemporaryDirectory() as workdir, torch.inference_mode():
        paths = build_paths(model, args.bf16 and name == "default", Path(workdir), args.threads)
        reference = model.tokenizer.decode_texts(model(batches[0]))
        results = {}
        for path in paths:
            texts = model.tokenizer.decode_texts(path.run(batches[0]).float())  # and warm-up
            agree = sum(a == b for a, b in zip(texts, reference)) / len(reference)
            results[path.name] = {"same_text": agree, "rounds": []}
        # Paths take turns, and each keeps its best round: other load on the machine slows
        # a round down, never speeds it up.
        for _ in range(args.rounds):
            for path in paths:
                results[path.name]["rounds"].append(timed(path, batches))
        for r in results.values():
            total, encoder = min(r.pop("rounds"))
            r["crops_per_s"] = crops / total
            r["decoding_share"] = 1 - encoder / total
        if name == "default" and args.accuracy_crops:
            accuracy_of_paths(paths, args.accuracy_crops, results)
    exact = results["exact"]["crops_per_s"]
    print(f"\n{name}: batch {args.batch_size}, {crops} crops, {args.threads} threads")
    print(f"  {'path':10} {'crops/s':>8} {'vs exact':>9} {'decoding':>9} {'same text':>10}")
    for path, r in results.items():
        print(
            f"  {path:10} {r['crops_per_s']:8.2f} {r['crops_per_s'] / exact:8.2f}x "
            f"{r['decoding_share']:8.1%} {r['same_text']:9.1%}"
        )
    for path, r in results.items():
        if "accuracy" in r:
            change = 100 * (r["accuracy"] - results["exact"]["accuracy"])
            print(
                f"  IIIT5K word accuracy ({r['accuracy_crops']} crops), {path}: "
                f"{r['accuracy']:.4f} ({change:+.2f} points vs exact)"
            )
    return results


def accuracy_of_paths(paths, limit: int, results: dict) -> None:
    from recognizer.metrics import word_accuracy

    rows = crop_rows(limit)
    for path in paths:
        if path.read is None:
            continue
        readings = path.read([p for p, _ in rows])
        accuracy = word_accuracy([r.text for r in readings], [label for _, label in rows])
        results[path.name]["accuracy"] = accuracy.alnum
        results[path.name]["accuracy_crops"] = accuracy.total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["default", "b16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=2, help="batches per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (best kept)")
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast")
    parser.add_argument(
        "--accuracy-crops",
        type=int,
        default=3000,
        help="IIIT5K crops for the default model's accuracy per path (0: skip)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import recognizer

    exact = {}
    for name in args.models:
        if name == "default":
            model = recognizer.load("default")
        elif name == "b16":
            torch.manual_seed(0)
            model = CLIP4STR(CLIP4STRConfig(clip=VIT_B16)).eval()
        else:
            model = recognizer.load(name)
        exact[name] = measure_model(name, model, args)["exact"]["crops_per_s"]
    if len(exact) > 1:
        first = args.models[0]
        print(f"\nexact path, crops/s against {first} (same command):")
        for name, speed in exact.items():
            print(f"  {name:14} {speed:8.2f} {speed / exact[first]:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
