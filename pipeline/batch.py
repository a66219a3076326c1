"""The batch layer: many photos in, one result file per photo out, resumably.

- ``plan_jobs``: every photo of the inputs (files and folders) and where its files go;
- ``Job.is_done`` / ``pending``: skip-if-done, per output format (a job is done when all
  the files asked for exist);
- ``write_atomically``: a file is either complete or absent, whatever stops the run;
- ``Claims``: runs on the same output folder share the work: each photo is claimed, by a
  claim file beside its outputs, before it is read, and left to the run that holds it;
- ``stream_outcomes``: the local engine, photos through ``OCRPipeline`` in chunks with the
  next chunk loaded and detected in a background thread;
- ``run_jobs``: all of it together, with a progress bar and a report of the bad files.

The command line (``pipeline.cli``) is a thin shell over ``run_jobs``; other engines (a
service, a distributed runner) reuse the planning, skipping and writing.
"""

from __future__ import annotations

import errno
import io
import itertools
import json
import os
import queue
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from recognizer import ImageError

from .formats import FORMATS, Format, Photo
from .photos import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, find_photos, load_photo
from .result import SCHEMA, OCRResult
from .stores import StoredPath
from .visualize import draw_overlay

OVERLAY_SUFFIX = ".overlay.jpg"
JSON = FORMATS["json"]
# Beside a photo's outputs while a run reads it: ``out/a.jpg.json.claim``.
CLAIM_SUFFIX = JSON.suffix + ".claim"
# A claim is held only while its photo is read (seconds to minutes): one older than this is
# left over from a run that ended without removing it, and is taken over. On this machine a
# claim is also taken over as soon as the process that made it has ended.
STALE_CLAIM_HOURS = 2


class ChunkReader(Protocol):
    """What the local engine needs of a pipeline (``OCRPipeline`` has it): detection of a
    chunk of inputs, then reading of the detected chunk."""

    def detect_chunk(self, items: list) -> Any: ...

    def read_chunk(self, chunk: Any) -> Iterator[tuple[object, OCRResult | ImageError]]: ...


@dataclass(frozen=True)
class Job:
    """One photo and where its files go: ``stem`` + each format's suffix (``out/sub/a.jpg``
    -> ``out/sub/a.jpg.json``, ``out/sub/a.jpg.alto.xml`` ...); None: nothing is written."""

    photo: Path
    stem: Path | None

    def output(self, suffix: str) -> Path | None:
        return None if self.stem is None else self.stem.with_name(self.stem.name + suffix)

    @property
    def target(self) -> Path | None:
        """The JSON file."""
        return self.output(JSON.suffix)

    @property
    def overlay(self) -> Path | None:
        return self.output(OVERLAY_SUFFIX)

    @property
    def claim(self) -> Path | None:
        """The file that says a run is reading the photo (see ``Claims``)."""
        return self.output(CLAIM_SUFFIX)

    def outputs(self, formats: list[Format] = (JSON,), visualize: bool = False) -> list[Path]:
        if self.stem is None:
            return []
        suffixes = [fmt.suffix for fmt in formats] + ([OVERLAY_SUFFIX] if visualize else [])
        return [self.output(suffix) for suffix in suffixes]

    def is_done(self, formats: list[Format] = (JSON,), visualize: bool = False) -> bool:
        outputs = self.outputs(formats, visualize)
        return bool(outputs) and all(path.exists() for path in outputs)


@dataclass
class BatchReport:
    """What a batch run did: photos read, skipped as already done, and failures."""

    read: int = 0
    skipped: int = 0
    # Photos whose missing files were written from the result already in their JSON.
    completed: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)
    # Photos left to another run that was reading them (not failures: re-run to check).
    claimed_elsewhere: list[Path] = field(default_factory=list)
    # Why the run stopped before the end (interrupted, disk full ...); None if it did not.
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and self.stopped is None


def plan_jobs(inputs: list[Path], out: Path | None) -> list[Job]:
    """One job per photo of the inputs; a folder's photos keep their paths relative to it.

    Photos inside ``out`` (an output folder within an input folder) are not inputs, nor
    are pictures this tool made from a photo (``is_made_from_a_photo``), wherever they are.

    Raises ``ValueError`` when two photos would be written to the same file.
    """
    jobs: list[Job] = []
    seen: set[Path] = set()
    owners: dict[Path, Path] = {}  # output stem -> the photo it is for
    out_dir = out.resolve() if out is not None else None
    for item in inputs:
        if item.is_dir():
            found = [
                (p, p.relative_to(item))
                for p in find_photos(item)
                if (out_dir is None or not _inside(_resolved(p), out_dir))
                and not is_made_from_a_photo(p)
            ]
        else:
            found = [(item, Path(item.name))]
        for photo, relative in found:
            resolved = _resolved(photo)
            if resolved in seen:
                continue
            seen.add(resolved)
            stem = out / relative if out else None
            if stem is not None:
                if stem in owners:
                    raise ValueError(
                        f"{owners[stem]} and {photo} would both be written to {stem}.*; "
                        "read them in separate runs or with different --out folders"
                    )
                owners[stem] = photo
            jobs.append(Job(photo, stem))
    return jobs


def _inside(path: Path | StoredPath, folder: Path | StoredPath) -> bool:
    """Whether ``path`` lies within ``folder`` (a local path is never in a store)."""
    if isinstance(path, StoredPath) != isinstance(folder, StoredPath):
        return False
    return path.is_relative_to(folder)


def is_made_from_a_photo(path: Path) -> bool:
    """Whether an image file is an output beside a photo's result: its name is the photo's
    name and more (``a.jpg.overlay.jpg``, ``a.jpg.pdf-selection.jpg``) and the photo's
    result JSON (``a.jpg.json``) lies beside it."""
    parts = path.name.split(".")
    for end in range(2, len(parts)):
        photo_name = ".".join(parts[:end])
        if Path(photo_name).suffix.lower() in IMAGE_EXTENSIONS and _is_result_json(
            path.with_name(photo_name + JSON.suffix)
        ):
            return True
    return False


def _is_result_json(path: Path) -> bool:
    """Whether ``path`` is a JSON file of this tool's results (from its first bytes)."""
    try:
        with path.open("rb") as handle:
            return SCHEMA.encode() in handle.read(512)
    except OSError:
        return False


def check_writable(out: Path | StoredPath) -> None:
    """Make ``out`` and check that files can be written there; OSError with the reason."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file, not a folder for the results")
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(out, StoredPath):
        probe = out / f".write-check-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink(missing_ok=True)
        return
    with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
        pass


# A run cannot go on after these: every later write would fail the same way.
FATAL_WRITE_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES}


def _resolved(path: Path) -> Path:
    """The real path; a link loop stays as it is (it is reported when it is read)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # Python < 3.13 raises RuntimeError on a loop
        return path.absolute()


def recorded_result(job: Job) -> OCRResult | None:
    """The result a job's JSON file already holds, or None (no file, or not readable)."""
    if job.target is None or not job.target.is_file():
        return None
    try:
        return OCRResult.from_json(job.target.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError, OSError):
        return None  # half a file from elsewhere, or another schema: read the photo again


def to_read(
    jobs: list[Job],
    overwrite: bool = False,
    visualize: bool = False,
    formats: list[Format] = (JSON,),
) -> list[Job]:
    """The pending jobs that need the models: those without a result recorded in JSON."""
    return _split_recorded(pending(jobs, overwrite, visualize, formats), overwrite)[1]


def _split_recorded(todo: list[Job], overwrite: bool) -> tuple[dict[Path, OCRResult], list[Job]]:
    """(results recorded in the jobs' JSON files, by photo; the jobs that have none).

    With ``overwrite`` nothing recorded is reused: every photo is read again."""
    recorded = {} if overwrite else {job.photo: recorded_result(job) for job in todo}
    recorded = {photo: result for photo, result in recorded.items() if result is not None}
    return recorded, [job for job in todo if job.photo not in recorded]


def pending(
    jobs: list[Job],
    overwrite: bool = False,
    visualize: bool = False,
    formats: list[Format] = (JSON,),
) -> list[Job]:
    """The jobs still to do: all with ``overwrite``, else those with a file missing."""
    return [job for job in jobs if overwrite or not job.is_done(formats, visualize)]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it: never a half-written file.
    (An object in a store is written in one request: it appears whole or not at all.)"""
    if isinstance(path, StoredPath):
        path.write_bytes(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give it a new file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(
    job: Job,
    result: OCRResult,
    formats: list[Format] = (JSON,),
    visualize: bool = False,
    overwrite: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> None:
    """The job's files, each written atomically; with ``overwrite`` False, only the missing.

    Formats that draw on the photo load it again, up to ``max_pixels`` (the pipeline's)."""
    if job.stem is None:
        return
    wanted = [(fmt.suffix, fmt) for fmt in formats]
    if visualize:
        wanted.append((OVERLAY_SUFFIX, None))  # the overlay picture
    todo = [(job.output(suffix), fmt) for suffix, fmt in wanted]
    todo = [(path, fmt) for path, fmt in todo if overwrite or not path.exists()]
    needs_pixels = any(fmt is None or fmt.needs_image for _, fmt in todo)
    pixels = load_photo(job.photo, max_pixels) if needs_pixels else None
    for path, fmt in todo:
        if fmt is None:
            buffer = io.BytesIO()
            draw_overlay(pixels, result).save(buffer, format="JPEG", quality=90)
            write_atomically(path, buffer.getvalue())
        else:
            write_atomically(path, fmt.render(result, Photo(str(job.photo), pixels)))


# ------------------------------------------------------------------ sharing the work


class Claims:
    """This run's claims on photos, so that runs on the same output folder share the work.

    Before a photo is read its claim file (``Job.claim``) is created atomically
    (``O_CREAT | O_EXCL``) with this run's process id, host, time and token; a photo whose
    claim another live run holds is left to that run. ``release`` removes the claim once
    the photo's files are written or it failed. Stale claims (``claim_is_stale``) are
    taken over; two runs taking over one stale claim at the same moment may both read
    that photo, which costs time but no result (files are written atomically).

    Workers of one run share its ``token``: a claim made under the run's token by another
    worker (one that ended while it held the claim, its work now handed to another) is
    taken over at once.
    """

    def __init__(self, token: str | None = None):
        self.token = token or uuid.uuid4().hex
        self._held: set[Path] = set()
        self._lock = threading.Lock()

    def take(self, job: Job) -> bool:
        """Claim the job's photo; False if another live run holds it.

        A job that writes no files, or whose claim file cannot be made, goes ahead
        unclaimed (writing its files reports why the folder cannot be written)."""
        path = job.claim
        if path is None or isinstance(path, StoredPath):  # stores cannot create-if-absent
            return True
        for _ in range(3):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                if not (claim_is_stale(path) or self._ours_elsewhere(path)):
                    return False
                path.unlink(missing_ok=True)  # taken over
                continue
            except OSError:
                return True
            record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": time.time(),
                "run": self.token,
            }
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(record, handle)
            except OSError:
                path.unlink(missing_ok=True)
                return True
            with self._lock:
                self._held.add(path)
            return True
        return False

    def _ours_elsewhere(self, path: Path) -> bool:
        """Whether the claim was made under this run's token, not by this object."""
        with self._lock:
            if path in self._held:
                return False
        return read_claim(path).get("run") == self.token

    def release(self, job: Job) -> None:
        """Remove the job's claim if this run holds it."""
        with self._lock:
            if job.claim not in self._held:
                return
            self._held.discard(job.claim)
        self._remove(job.claim)

    def release_all(self) -> None:
        with self._lock:
            held, self._held = self._held, set()
        for path in held:
            self._remove(path)

    def _remove(self, path: Path) -> None:
        if read_claim(path).get("run") == self.token:  # not taken over meanwhile
            path.unlink(missing_ok=True)


def read_claim(path: Path) -> dict:
    """What a claim file says (pid, host, since, run); empty if it is gone or unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def claim_is_stale(path: Path) -> bool:
    """Whether a claim is left over from a run that ended: made on this machine by a process
    that has ended, or older than ``STALE_CLAIM_HOURS``. A claim gone meanwhile is free."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if age > STALE_CLAIM_HOURS * 3600:
        return True
    record = read_claim(path)
    pid = record.get("pid")
    if record.get("host") == socket.gethostname() and isinstance(pid, int) and pid > 0:
        return not _process_alive(pid)
    return False  # being written just now, or another machine's: wait for its age


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would end the process there; rely on the claim's age
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, run by another user
        return True
    return True


def _done_since(
    job: Job, since: float, formats: list[Format], visualize: bool, overwrite: bool
) -> bool:
    """Whether the job's files are all there (with ``overwrite``: all written since
    ``since``), i.e. another run did it after this one listed its jobs."""
    if not job.is_done(formats, visualize):
        return False
    if not overwrite:
        return True
    try:
        return all(path.stat().st_mtime >= since for path in job.outputs(formats, visualize))
    except OSError:
        return False


# ------------------------------------------------------------------ the local engine


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Failure:
    error: BaseException


_DONE = object()


def stream_outcomes(
    pipeline: ChunkReader, items: Iterable, images_per_batch: int = 4, overlap: bool = True
) -> Iterator[tuple[object, OCRResult | ImageError]]:
    """Yield ``(input, OCRResult | ImageError)`` for each input, in input order.

    Inputs go through in chunks of ``images_per_batch`` (the crops of a chunk share
    recognizer batches). With ``overlap`` a background thread loads and detects the next
    chunk while this one is read; at most two chunks are held at a time, so memory stays
    flat however many inputs there are.
    """
    chunks = _chunks(items, images_per_batch)
    if not overlap:
        for chunk in chunks:
            yield from pipeline.read_chunk(pipeline.detect_chunk(chunk))
        return
    detected: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item) -> bool:
        """Queue ``item`` unless the consumer has gone away."""
        while not stop.is_set():
            try:
                detected.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for chunk in chunks:
                if not offer(pipeline.detect_chunk(chunk)):
                    return
            offer(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            offer(_Failure(error))

    worker = threading.Thread(target=produce, name="ocr-detect", daemon=True)
    worker.start()
    try:
        while True:
            chunk = detected.get()
            if chunk is _DONE:
                break
            if isinstance(chunk, _Failure):
                raise chunk.error
            yield from pipeline.read_chunk(chunk)
    finally:
        stop.set()
        worker.join()


def run_jobs(
    pipeline: ChunkReader | Callable[[], ChunkReader],
    jobs: list[Job],
    *,
    overwrite: bool = False,
    visualize: bool = False,
    formats: list[Format] = (JSON,),
    images_per_batch: int = 4,
    overlap: bool = True,
    progress: bool = False,
    on_result: Callable[[Job, OCRResult], None] | None = None,
    run_token: str | None = None,
    started: float | None = None,
) -> BatchReport:
    """Read the jobs not done yet, write their files in ``formats``, and report.

    Without ``overwrite``, the files that exist already are kept and only the missing ones
    written; a photo whose JSON exists is not read again: its other files are made from the
    result recorded there (so every format of a photo describes the same reading).
    ``pipeline`` is a pipeline or a function that builds one, called only if some photo
    needs reading (so a run that only adds formats to recorded results loads no model).
    A photo that cannot be read is recorded in the report and the run goes on.
    Runs on the same output folder share the work: each photo is claimed before it is read
    (``Claims``), and one that another run is reading is left to it and listed in
    ``report.claimed_elsewhere``.
    ``on_result`` is called for each result after its files are written (e.g. to print it).
    An engine that runs ``run_jobs`` on parts of a larger run (``pipeline.ray_engine``)
    passes the run's claims token (``run_token``, see ``Claims``) and the time it ``started``.
    """
    from tqdm import tqdm

    started = time.time() if started is None else started
    todo = pending(jobs, overwrite, visualize, formats)
    report = BatchReport(skipped=len(jobs) - len(todo))
    if not todo:
        return report
    by_photo = {job.photo: job for job in todo}
    bar = tqdm(total=len(todo), unit="img", desc="ocr", dynamic_ncols=True, disable=not progress)
    recorded, unread = _split_recorded(todo, overwrite)
    if unread and callable(pipeline):
        pipeline = pipeline()
    max_pixels = getattr(pipeline, "max_pixels", DEFAULT_MAX_PIXELS)
    claims = Claims(run_token)

    def claimed(candidates: list[Job]) -> Iterator[Job]:
        """The jobs this run claims and still has to do, each claimed as it comes up (in
        the background thread for photos to read)."""
        for job in candidates:
            if not claims.take(job):
                report.claimed_elsewhere.append(job.photo)
                bar.update(1)
            elif _done_since(job, started, formats, visualize, overwrite):
                claims.release(job)  # another run did it meanwhile
                report.skipped += 1
                bar.update(1)
            else:
                yield job

    from_json = (
        (job.photo, recorded[job.photo])
        for job in claimed([job for job in todo if job.photo in recorded])
    )
    photos = (job.photo for job in claimed(unread))
    outcomes = stream_outcomes(pipeline, photos, images_per_batch, overlap)
    try:
        for photo, outcome in itertools.chain(from_json, outcomes):
            job = by_photo[photo]
            try:
                bar.update(1)
                if isinstance(outcome, ImageError):
                    report.failures.append((photo, str(outcome)))
                    continue
                try:
                    write_outputs(job, outcome, formats, visualize, overwrite, max_pixels)
                except OSError as error:
                    report.failures.append((photo, f"could not write its results: {error}"))
                    if error.errno in FATAL_WRITE_ERRORS:
                        report.stopped = f"writing failed ({error.strerror or error})"
                        break
                    continue
            finally:
                claims.release(job)
            if photo in recorded:
                report.completed += 1
            else:
                report.read += 1
            if on_result is not None:
                on_result(job, outcome)
    except KeyboardInterrupt:
        report.stopped = "interrupted"
    finally:
        outcomes.close()  # stops the background thread, and with it new claims
        claims.release_all()
        bar.close()
    return report
