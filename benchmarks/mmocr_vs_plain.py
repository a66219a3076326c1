"""Do the MMOCR path and the plain path read the same words? On IIIT5K test crops.

    python benchmarks/mmocr_vs_plain.py                  # all 3000 crops
    python benchmarks/mmocr_vs_plain.py --limit 100

Reads every crop twice with the default recognizer: ``MMOCRInferencer(rec=
"recognizer/configs/default.py")`` and ``recognizer.load("default").read()``, in batches of
the same size, and prints how many crops the two read differently (texts and confidences),
with the speed of each path. Exits 1 if any text differs.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "iiit5k_test"


def crop_paths(data: Path, limit: int | None) -> list[str]:
    rows = (data / "labels.tsv").read_text(encoding="utf-8").splitlines()
    paths = [str(data / row.split("\t")[0]) for row in rows if row.strip()]
    return paths[:limit] if limit else paths


def read_with_mmocr(paths: list[str], batch_size: int) -> list[tuple[str, float]]:
    from pipeline.openmmlab import apply_openmmlab_workarounds

    apply_openmmlab_workarounds()
    from mmocr.apis import TextRecInferencer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the visualiser's save_dir notice
        inferencer = TextRecInferencer(model=str(REPO / "recognizer/configs/default.py"))
    output = inferencer(paths, batch_size=batch_size, progress_bar=False)
    scores = []
    for prediction in output["predictions"]:
        scores.append((prediction["text"], prediction["scores"]))
    return scores


def read_plain(paths: list[str], batch_size: int) -> list[tuple[str, list[float]]]:
    import recognizer

    model = recognizer.load("default")
    return [(r.text, r.char_confidences) for r in model.read(paths, batch_size=batch_size)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    paths = crop_paths(args.data, args.limit)
    started = time.perf_counter()
    plain = read_plain(paths, args.batch_size)
    plain_seconds = time.perf_counter() - started
    started = time.perf_counter()
    mmocr = read_with_mmocr(paths, args.batch_size)
    mmocr_seconds = time.perf_counter() - started
    texts = sum(p[0] != m[0] for p, m in zip(plain, mmocr))
    # MMOCR's inferencer reports the mean of the character scores; compare those.
    scores = sum(abs(sum(p[1]) / max(len(p[1]), 1) - m[1]) > 1e-6 for p, m in zip(plain, mmocr))
    for path, p, m in zip(paths, plain, mmocr):
        if p[0] != m[0]:
            print(f"differs: {path}: plain {p[0]!r}, mmocr {m[0]!r}")
    print(
        f"{len(paths)} crops: {texts} read differently, {scores} with different scores; "
        f"plain {len(paths) / plain_seconds:.1f} crops/s, MMOCR {len(paths) / mmocr_seconds:.1f} "
        f"crops/s = {plain_seconds / mmocr_seconds:.2f}x plain (each including model loading)"
    )
    return 1 if texts else 0


if __name__ == "__main__":
    sys.exit(main())
