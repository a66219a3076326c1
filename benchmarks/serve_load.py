"""A bounded load test of ``ocr-pipeline serve`` on loopback: batching against one at a time.

    python benchmarks/serve_load.py                      # 200 requests each, 8 at a time
    python benchmarks/serve_load.py --requests 40 --concurrency 4

Starts two services side by side (default models, each in a fresh process, each on a free
loopback port): one reads one photo at a time (``--images-per-batch 1``), the other
batches the photos of concurrent requests (``--images-per-batch 8``, the default). After a
few warm-up requests each, they take turns: ``--rounds`` rounds, in each of which each
service gets its share of the ``--requests``, ``--concurrency`` at a time, the two
starting rounds in turn, so that whatever else the machine does weighs on both alike. The
photos are ICDAR 2015 dev scenes from ``../shared/data`` (1280x720), in turn, the same for
both. A fixed number of requests, each with a time limit: the test ends by itself.

Prints, per service: failed requests, p50/p95 latency, photos/s (requests over the time
spent in its own turns), its resident memory after the warm-up, at the end and at its
highest (sampled every second), and after each round; then the batching service's
throughput against the one-photo service's. Exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "images"
sys.path.insert(0, str(REPO / "tests"))
from service_helpers import start_command, stop_command, wait_until_ready  # noqa: E402

WARM_UP = 4
REQUEST_TIMEOUT_S = 120


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class MemorySampler:
    """The server's resident memory, once a second, in a thread."""

    def __init__(self, pid: int):
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(resident_mib(self.pid))
            self._stop.wait(1.0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def send(client: httpx.Client, url: str, photo: Path) -> tuple[float, int, str]:
    """(seconds, status, problem) for one request; status 0 when it got no answer."""
    started = time.perf_counter()
    try:
        response = client.post(
            f"{url}/v1/ocr",
            files={"file": (photo.name, photo.read_bytes())},
            timeout=REQUEST_TIMEOUT_S,
        )
    except httpx.HTTPError as error:
        return time.perf_counter() - started, 0, repr(error)
    problem = "" if response.status_code == 200 and "words" in response.json() else response.text
    return time.perf_counter() - started, response.status_code, problem[:200]


@dataclass
class Service:
    """One server under test, and what it did."""

    name: str
    photos_per_batch: int
    process: subprocess.Popen | None = None
    url: str = ""
    outcomes: list = field(default_factory=list)
    seconds: float = 0.0
    memory: MemorySampler | None = None
    mib_after_warm_up: float = 0.0
    mib_after_round: list = field(default_factory=list)


def take_turn(service: Service, photos: list[Path], concurrency: int) -> None:
    with httpx.Client(limits=httpx.Limits(max_connections=concurrency)) as client:
        with ThreadPoolExecutor(concurrency) as pool:
            started = time.perf_counter()
            service.outcomes += pool.map(lambda p: send(client, service.url, p), photos)
            service.seconds += time.perf_counter() - started


def summary(service: Service) -> dict:
    latencies = sorted(seconds for seconds, _, _ in service.outcomes)
    samples = service.memory.samples or [service.mib_after_warm_up]
    return {
        "failed": [(status, problem) for _, status, problem in service.outcomes if status != 200],
        "p50": statistics.median(latencies),
        "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        "photos_per_s": len(service.outcomes) / service.seconds,
        "mib_after_warm_up": service.mib_after_warm_up,
        "mib_end": samples[-1],
        "mib_peak": max(samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="per service")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8, help="photos per batch when batching")
    args = parser.parse_args()
    # Stopped from outside (timeout, kill): stop the services too, on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    photos = sorted(PHOTOS.glob("*.jpg"))
    services = [Service("one at a time", 1), Service(f"batched (up to {args.batch})", args.batch)]
    try:
        for service in services:
            service.process, service.url = start_command(
                "--images-per-batch", str(service.photos_per_batch),
                "--queue-size", str(2 * args.concurrency),
                cwd=REPO,
            )  # fmt: skip
        for service in services:
            wait_until_ready(service.url, timeout=300, process=service.process)
            take_turn(service, photos[-WARM_UP:], args.concurrency)
            service.outcomes, service.seconds = [], 0.0
            service.mib_after_warm_up = resident_mib(service.process.pid)
            service.memory = MemorySampler(service.process.pid).__enter__()
        todo = [photos[i % len(photos)] for i in range(args.requests)]
        for turn in range(args.rounds):
            share = todo[turn * len(todo) // args.rounds : (turn + 1) * len(todo) // args.rounds]
            for service in services if turn % 2 == 0 else services[::-1]:
                take_turn(service, share, args.concurrency)
                service.mib_after_round.append(resident_mib(service.process.pid))
            print(f"round {turn + 1}/{args.rounds}: {len(share)} requests each", flush=True)
    finally:
        for service in services:
            if service.memory is not None:
                service.memory.__exit__(None, None, None)
            if service.process is not None:
                stop_command(service.process)
    results = {service.name: summary(service) for service in services}
    print()
    print(
        f"{'server':<22} {'failed':>6} {'p50 s':>6} {'p95 s':>6} {'photos/s':>8} "
        f"{'MiB warm':>8} {'MiB end':>8} {'MiB peak':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:<22} {len(r['failed']):>6} {r['p50']:>6.2f} {r['p95']:>6.2f} "
            f"{r['photos_per_s']:>8.2f} {r['mib_after_warm_up']:>8.0f} {r['mib_end']:>8.0f} "
            f"{r['mib_peak']:>8.0f}"
        )
    print("resident MiB after each round:")
    for service in services:
        print(f"  {service.name:<22} " + " ".join(f"{m:.0f}" for m in service.mib_after_round))
    single, batched = (r["photos_per_s"] for r in results.values())
    print(f"throughput, batched against one at a time: {batched / single:.2f}x")
    failures = [f for r in results.values() for f in r["failed"]]
    for status, problem in failures[:10]:
        print(f"failed: {status} {problem}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
