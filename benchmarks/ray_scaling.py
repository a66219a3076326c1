"""The batch run on Ray Data against the local engine, on the same photos, in one command.

    python benchmarks/ray_scaling.py                      # the 100 ICDAR 2015 dev photos
    python benchmarks/ray_scaling.py --limit 20 --workers 1 2

Each engine writes the JSON results of every photo to a fresh folder, as
``ocr-pipeline run FOLDER --out OUT [--engine ray --workers N]`` does. Printed per engine:

- wall: the whole run as a user waits for it (Ray's start, the workers' model loading);
- images/s over the run, and steady images/s (from the first result file written to the
  last: what a long run on many photos approaches);
- both as ratios to the local engine, and whether the results are identical to its own.

On one machine Ray's workers share its cores with each other, so more workers cannot read
faster than the local engine, which already uses every core; what is measured here is
Ray's overhead. A cluster adds machines: each node's workers read at that node's own rate.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PHOTOS = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "images"

from pipeline.batch import plan_jobs, run_jobs  # noqa: E402
from pipeline.ray_engine import RayOptions, run_jobs_on_ray  # noqa: E402
from pipeline.spec import PipelineSpec  # noqa: E402


def photo_folder(limit: int | None, into: Path) -> Path:
    """The first ``limit`` photos (sorted by name), copied to a folder of their own."""
    folder = into / "photos"
    folder.mkdir()
    for path in sorted(PHOTOS.glob("*.jpg"))[:limit]:
        shutil.copy(path, folder / path.name)
    return folder


def steady_rate(out: Path) -> float:
    """Images/s between the first and the last result file written."""
    times = sorted(path.stat().st_mtime for path in out.rglob("*.json"))
    if len(times) < 2 or times[-1] == times[0]:
        return float("nan")
    return (len(times) - 1) / (times[-1] - times[0])


def run_engine(
    name: str, folder: Path, out: Path, workers: int | None, spec: PipelineSpec, per_task: int
):
    jobs = plan_jobs([folder], out)
    started = time.perf_counter()
    if workers is None:
        from pipeline.core import OCRPipeline

        report = run_jobs(lambda: OCRPipeline.from_spec(spec), jobs)
    else:
        options = RayOptions(workers=workers, photos_per_task=per_task)
        report = run_jobs_on_ray(spec, jobs, options)
    wall = time.perf_counter() - started
    if report.failures or report.read != len(jobs):
        raise SystemExit(f"{name}: {report.read} of {len(jobs)} read, {report.failures}")
    return {"name": name, "wall": wall, "rate": len(jobs) / wall, "steady": steady_rate(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--photos-per-task", type=int, default=RayOptions.photos_per_task, help="(ray)"
    )
    args = parser.parse_args()

    spec = PipelineSpec()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = photo_folder(args.limit, tmp)
        count = len(list(folder.iterdir()))
        runs = [("local", None)] + [(f"ray, {n} worker(s)", n) for n in args.workers]
        rows = []
        for index, (name, workers) in enumerate(runs):
            out = tmp / f"out{index}"
            rows.append(run_engine(name, folder, out, workers, spec, args.photos_per_task))
            rows[-1]["out"] = out
            print(f"{name}: {rows[-1]['wall']:.1f} s", file=sys.stderr, flush=True)
        local = rows[0]
        print(
            f"{count} photos, {spec.detector} detector, {spec.recognizer} recognizer, "
            f"{args.photos_per_task} photos per Ray task"
        )
        header = ("engine", "wall s", "img/s", "ratio", "steady", "ratio", "same")
        print("{:<20} {:>7} {:>6} {:>6} {:>7} {:>6}  {}".format(*header))
        for row in rows:
            same = all(
                (row["out"] / p.relative_to(local["out"])).read_bytes() == p.read_bytes()
                for p in local["out"].rglob("*.json")
            )
            print(
                f"{row['name']:<20} {row['wall']:>7.1f} {row['rate']:>6.2f} "
                f"{row['rate'] / local['rate']:>6.2f} {row['steady']:>7.2f} "
                f"{row['steady'] / local['steady']:>6.2f}  {'yes' if same else 'NO'}"
            )


if __name__ == "__main__":
    main()
