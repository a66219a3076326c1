"""Where a first command's time goes: ``--help``, imports, model loading, one photo.

    python benchmarks/cold_start.py [PHOTO] [--rounds 3]

Each figure is the best of ``--rounds`` fresh processes: ``ocr-pipeline --help`` as a whole,
then, inside one process, importing the pipeline, building the default models and reading
one photo. Printed in seconds, with ``--help`` as a share of the whole cold start.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "demo" / "blue_plaque.jpg"

STAGES = """
import json, sys, time
started = time.perf_counter()
from pipeline import OCRPipeline
from pipeline.core import OCRPipeline
imported = time.perf_counter()
pipeline = OCRPipeline()
built = time.perf_counter()
pipeline.ocr(sys.argv[1])
done = time.perf_counter()
print(json.dumps({"import": imported - started, "load models": built - imported,
                  "first photo": done - built}))
"""


def time_help() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--help"], cwd=REPO, capture_output=True, check=True
    )
    return time.perf_counter() - started


def time_stages(photo: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", STAGES, str(photo)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path, nargs="?", default=PHOTO)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    help_seconds = min(time_help() for _ in range(args.rounds))
    rounds = [time_stages(args.photo) for _ in range(args.rounds)]
    stages = {name: min(r[name] for r in rounds) for name in rounds[0]}
    total = sum(stages.values())
    print(f"ocr-pipeline --help: {help_seconds:.2f} s")
    for name, seconds in stages.items():
        print(f"{name}: {seconds:.2f} s ({seconds / total:.0%})")
    print(f"cold start to a first result: {total:.2f} s; --help is {help_seconds / total:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
