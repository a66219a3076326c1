"""The batch run on Ray Data: ``ocr-pipeline run INPUTS --out OUT --engine ray``.

The driver plans the jobs and leaves out those already done, as the local engine does
(``pipeline.batch``). The rest go, in groups of a few photos, through Ray Data's
``map_batches`` to a pool of actors (``PhotoWorker``). Each actor loads the models once,
when it starts, and runs the local engine (``run_jobs``) on every group it is given: the
same reading, the same files, written by the worker straight to the output folder or
bucket. Only a small report per group comes back to the driver, which keeps the progress
bar and the list of bad files.

- Streaming: Ray Data hands groups to actors as they free up and holds back the rest, so
  memory stays flat however many photos there are.
- One stage: a worker both detects and reads its photos (with the local engine's overlap
  of the two). Crops are many small arrays; sending them between stages through Ray's
  object store would cost more than it frees on one machine; on a cluster with GPU
  nodes, ``--gpus-per-worker`` gives each worker a GPU for both models.
- Faults: Ray restarts a worker that dies (process killed, node lost) and hands its group
  to a worker again. The photos it finished have their files and are skipped; its claims
  were made under the run's token and are taken over; so no photo is lost, and none is
  counted twice.
- A stopped run leaves only whole files (``write_atomically``); the same command goes on
  where it stopped.

Ray is an optional dependency: ``pip install 'ocr-pipeline[ray]'``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .batch import JSON, BatchReport, Job, pending, run_jobs
from .formats import FORMATS, Format
from .spec import PipelineSpec
from .stores import StoredPath, location

RAY_MISSING = (
    "the ray engine needs Ray Data, which is not installed: "
    "pip install 'ocr-pipeline[ray]' (or pip install 'ray[data]')"
)
# Variables a worker needs from the driver's environment (object-store credentials and
# endpoints, model caches, offline mode), passed to every worker of the run.
FORWARDED_ENV_PREFIXES = ("AWS_", "GOOGLE_", "GCS_", "HF_", "OCR_PIPELINE_", "TORCH_HOME")


class RayUnavailableError(RuntimeError):
    """Ray (or Ray Data) cannot be imported, or the cluster cannot be reached."""


def import_ray():
    """The ``ray`` module with Ray Data loaded; ``RayUnavailableError`` saying how to get it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the part of Ray this engine needs
    except ImportError as error:
        raise RayUnavailableError(f"{RAY_MISSING} ({error})") from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the run goes.

    ``address``: None starts a local Ray instance for the run (stopped after it); ``auto``
    joins the cluster this machine belongs to (``ray start``); ``ray://HOST:10001`` joins
    one from outside through Ray Client (the run then goes into the cluster as a task:
    Ray Data does not run through Ray Client). ``workers``: actors, each with the models
    loaded once.
    ``cpus_per_worker``: default, a local instance's CPUs shared out among the workers,
    and 1 on a cluster. ``photos_per_task``: photos a worker is given at a time (a few
    chunks of ``images_per_batch``).
    """

    address: str | None = None
    workers: int = 1
    cpus_per_worker: float | None = None
    gpus_per_worker: float = 0.0
    photos_per_task: int = 24


class PhotoWorker:
    """A Ray actor: builds the pipeline once, then runs the local engine on each group."""

    def __init__(
        self,
        spec: dict,
        formats: list[str],
        visualize: bool,
        overwrite: bool,
        images_per_batch: int,
        run_token: str,
        started: float,
        threads: int,
    ):
        import torch

        from .core import OCRPipeline

        torch.set_num_threads(max(1, threads))
        self.pipeline = OCRPipeline.from_spec(PipelineSpec(**spec))
        self.formats = [FORMATS[name] for name in formats]
        self.settings = dict(visualize=visualize, overwrite=overwrite)
        self.images_per_batch = images_per_batch
        self.run_token = run_token
        self.started = started

    def __call__(self, batch: dict) -> dict:
        reports = [self._run_group(decode_jobs(text)) for text in batch["jobs"]]
        return {key: [report[key] for report in reports] for key in REPORT_KEYS}

    def _run_group(self, jobs: list[Job]) -> dict:
        report = run_jobs(
            self.pipeline,
            jobs,
            formats=self.formats,
            images_per_batch=self.images_per_batch,
            run_token=self.run_token,
            started=self.started,
            **self.settings,
        )
        return {
            "photos": len(jobs),
            "read": report.read,
            "skipped": report.skipped,
            "completed": report.completed,
            "failures": json.dumps([[str(path), reason] for path, reason in report.failures]),
            "elsewhere": json.dumps([str(path) for path in report.claimed_elsewhere]),
            "stopped": report.stopped or "",
        }


REPORT_KEYS = ("photos", "read", "skipped", "completed", "failures", "elsewhere", "stopped")


def encode_jobs(jobs: list[Job]) -> str:
    return json.dumps([[_text(job.photo), _text(job.stem)] for job in jobs])


def decode_jobs(text: str) -> list[Job]:
    return [
        Job(location(photo), None if stem is None else location(stem))
        for photo, stem in json.loads(text)
    ]


def _text(path: Path | StoredPath | None) -> str | None:
    if path is None:
        return None
    return path.uri if isinstance(path, StoredPath) else str(path)


def run_jobs_on_ray(
    spec: PipelineSpec,
    jobs: list[Job],
    options: RayOptions = RayOptions(),
    *,
    overwrite: bool = False,
    visualize: bool = False,
    formats: list[Format] = (JSON,),
    images_per_batch: int = 4,
    progress: bool = False,
) -> BatchReport:
    """``run_jobs`` on a pool of Ray actors: the same files, the same report."""
    from tqdm import tqdm

    ray = import_ray()
    started = time.time()
    todo = pending(jobs, overwrite, visualize, formats)
    report = BatchReport(skipped=len(jobs) - len(todo))
    if not todo:
        return report
    size = max(options.photos_per_task, 1)
    groups = [encode_jobs(todo[i : i + size]) for i in range(0, len(todo), size)]
    bar = tqdm(total=len(todo), unit="img", desc="ocr", dynamic_ncols=True, disable=not progress)
    try:
        with ray_connection(ray, options.address):
            _quiet_ray_data(ray)
            cpus = worker_cpus(ray, options)
            device = spec.device
            if options.gpus_per_worker > 0 and device == "cpu":
                device = "cuda"  # Ray gives each worker its GPUs as cuda:0, cuda:1 ...
            worker_args = dict(
                spec={**spec.to_dict(), "device": device},
                formats=[fmt.name for fmt in formats],
                visualize=visualize,
                overwrite=overwrite,
                images_per_batch=images_per_batch,
                run_token=uuid.uuid4().hex,
                started=started,
                threads=max(1, int(cpus)),
            )
            stream = (groups, worker_args, options, cpus)
            if is_client_address(options.address):
                # Ray Data cannot run through Ray Client: the run's driver part goes into
                # the cluster as a task, and only its report comes back.
                in_cluster = ray.remote(num_cpus=0)(_run_in_cluster)
                bar.write("running inside the cluster; progress is shown at the end")
                _merge(report, ray.get(in_cluster.remote(*stream)))
                bar.update(len(todo))
            else:
                for row in _group_reports(ray, *stream):
                    _add_group(report, row)
                    bar.update(int(row["photos"]))
                    if report.stopped:
                        break
    except ray.exceptions.RayError as error:
        raise _worker_error(error) from None
    except KeyboardInterrupt:
        report.stopped = "interrupted"
    finally:
        bar.close()
    return report


def is_client_address(address: str | None) -> bool:
    """Whether ``address`` joins a cluster through Ray Client (``ray://HOST:PORT``)."""
    return address is not None and address.startswith("ray://")


def _group_reports(
    ray, groups: list[str], worker_args: dict, options: RayOptions, cpus: float
) -> Iterator[dict]:
    """Each group's report as its worker finishes it: the Ray Data pipeline itself."""
    rows = ray.data.from_items([{"jobs": g} for g in groups], override_num_blocks=len(groups))
    results = rows.map_batches(
        PhotoWorker,
        fn_constructor_kwargs=worker_args,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=options.workers),
        num_cpus=cpus,
        num_gpus=options.gpus_per_worker or None,
    )
    yield from results.iter_rows()


def _run_in_cluster(groups, worker_args, options, cpus) -> BatchReport:
    """The run's driver part as a task inside the cluster (for Ray Client)."""
    import ray

    _quiet_ray_data(ray)
    report = BatchReport()
    for row in _group_reports(ray, groups, worker_args, options, cpus):
        _add_group(report, row)
        if report.stopped:
            break
    return report


def _merge(report: BatchReport, part: BatchReport) -> None:
    report.read += part.read
    report.skipped += part.skipped
    report.completed += part.completed
    report.failures.extend(part.failures)
    report.claimed_elsewhere.extend(part.claimed_elsewhere)
    report.stopped = report.stopped or part.stopped


def _worker_error(error: BaseException) -> BaseException:
    """The error a worker raised (a model that cannot be loaded ...), out of Ray's wrappers,
    so that it is reported as the local engine reports it."""
    import ray

    seen = set()
    while isinstance(error, ray.exceptions.RayError) and id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "cause", None) or error.__cause__
        # Ray Data chains its own marker exceptions (no message) to the error it re-raises.
        if inner is None or type(inner).__module__.startswith("ray.data"):
            break
        error = inner
    if isinstance(error, ray.exceptions.RayError) or type(error).__module__.startswith("ray"):
        # An actor that failed to start gives the worker's error as its message's last line.
        lines = str(error).strip().splitlines()
        return RayUnavailableError(
            f"the Ray run failed: {lines[-1] if lines else type(error).__name__}"
        )
    return error


def _add_group(report: BatchReport, row: dict) -> None:
    """Add a group's report, as a worker returned it (``PhotoWorker._run_group``)."""
    group = BatchReport(
        read=int(row["read"]),
        skipped=int(row["skipped"]),
        completed=int(row["completed"]),
        failures=[(location(path), reason) for path, reason in json.loads(row["failures"])],
        claimed_elsewhere=[location(path) for path in json.loads(row["elsewhere"])],
        stopped=str(row["stopped"]) or None,
    )
    _merge(report, group)


def _quiet_ray_data(ray) -> None:
    """Ray Data's own progress bars and execution notes off: the run has its progress bar."""
    context = ray.data.DataContext.get_current()
    if context.enable_progress_bars:
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        context.enable_progress_bars = False


def worker_cpus(ray, options: RayOptions) -> float:
    """CPUs each worker asks Ray for."""
    if options.cpus_per_worker is not None:
        return options.cpus_per_worker
    if options.address is not None:
        return 1.0
    total = ray.cluster_resources().get("CPU", 1)
    return max(1.0, float(int(total // max(options.workers, 1))))


@contextlib.contextmanager
def ray_connection(ray, address: str | None) -> Iterator[None]:
    """Within: connected to Ray. A Ray already initialised in this process (a notebook, a
    test) is used as it is; otherwise a local instance is started (``address`` None) or the
    cluster at ``address`` joined, and left again afterwards."""
    if ray.is_initialized():
        yield
        return
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    try:
        ray.init(
            address=address or "local",
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            runtime_env={"env_vars": env} if env else None,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = address or "a local instance"
        raise RayUnavailableError(f"cannot start or join Ray at {where}: {error}") from None
    try:
        yield
    finally:
        ray.shutdown()
