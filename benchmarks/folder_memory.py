"""Peak memory of a folder run stays flat as the folder grows.

    python benchmarks/folder_memory.py                 # 10 photos, then 100
    python benchmarks/folder_memory.py --photos 20 --factor 10

Runs ``ocr-pipeline run FOLDER --out OUT`` (in a fresh process each time, default models)
on a folder of N real photos and on one of the same N photos repeated ``factor`` times under
new names, and prints each run's peak resident memory (the process's ``ru_maxrss``),
images/s, and the ratio of the two peaks. Photos are ICDAR 2015 scenes from ``../shared/data``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "images"

# Runs the command line in this process, then reports the process's own peak memory.
CHILD = """
import json, resource, sys, time
from pipeline.cli import main
started = time.perf_counter()
status = main(sys.argv[1:])
elapsed = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"status": status, "seconds": elapsed, "peak_mib": peak_kib / 1024}))
"""


def make_folder(root: Path, count: int, distinct: int) -> Path:
    """``count`` photos cycling through the first ``distinct`` ones, so that both folders
    hold the same kind of photos and only their number differs."""
    sources = sorted(PHOTOS.glob("*.jpg"))[:distinct]
    folder = root / f"photos-{count}"
    for i in range(count):
        source = sources[i % len(sources)]
        subfolder = folder / f"part{i // 50:03d}"  # nested, as real collections are
        subfolder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, subfolder / f"{i:05d}_{source.name}")
    return folder


def measure(folder: Path, out: Path, count: int, extra: list[str]) -> dict:
    command = [sys.executable, "-c", CHILD, "run", str(folder), "--out", str(out), *extra]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0 and not result.stdout.strip():
        raise RuntimeError(f"folder run failed:\n{result.stderr[-2000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["images_per_s"] = count / figures["seconds"]
    written = len(list(out.rglob("*.json")))
    if written != count:
        raise RuntimeError(f"expected {count} results, found {written}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10, help="photos in the small folder")
    parser.add_argument("--factor", type=int, default=10, help="size of the large folder")
    parser.add_argument("extra", nargs="*", help="more options for `ocr-pipeline run` (after --)")
    args = parser.parse_args()
    sizes = [args.photos, args.photos * args.factor]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in sizes:
            folder = make_folder(Path(tmp), count, distinct=args.photos)
            results[count] = measure(folder, Path(tmp) / f"out-{count}", count, args.extra)
    print(f"{'photos':>7} {'peak MiB':>9} {'images/s':>9}")
    for count, figures in results.items():
        print(f"{count:7d} {figures['peak_mib']:9.0f} {figures['images_per_s']:9.2f}")
    small, large = (results[n]["peak_mib"] for n in sizes)
    print(f"peak memory, {args.factor}x the photos: {large / small:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
