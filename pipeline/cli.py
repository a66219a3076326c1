"""The ``ocr-pipeline`` command: ``run`` photos or folders, ``eval`` against ground truth,
``serve`` them over HTTP."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from recognizer import (
    CheckpointError,
    MultiFrameWarning,
    OnnxExportError,
    WeightsUnavailableError,
)
from recognizer.images import why_not_a_file
from recognizer.options import add_recognizer_options, fraction, positive_int

from .batch import BatchReport, Job, check_writable, plan_jobs, recorded_result, run_jobs
from .formats import FORMATS, Format, parse_formats
from .openmmlab.detector import DETECTORS
from .photos import IMAGE_EXTENSIONS
from .result import OCRResult
from .service.settings import (
    SERVICE_MAX_PIXELS,
    SERVICE_PHOTOS_PER_BATCH,
    ServiceSettings,
)
from .spec import (
    DEFAULT_LINE_READER_MARGIN,
    DEFAULT_LINE_READER_TRUST,
    DEFAULT_MIN_CONFIDENCE,
    PipelineSpec,
)
from .splitters import SPLIT_METHODS
from .stores import StoreError, location


def _number_or_off(text: str, low: float, high: float) -> float | None:
    if text.strip().lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor 'off'") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"must be between {low:g} and {high:g} (or off), not {value}"
        )
    return value


def margin_or_off(text: str) -> float | None:
    """An argparse type: ``off`` (None) or a number from -1 to 1."""
    return _number_or_off(text, -1.0, 1.0)


def fraction_or_off(text: str) -> float | None:
    """An argparse type: ``off`` (None) or a number from 0 to 1."""
    return _number_or_off(text, 0.0, 1.0)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    models = parser.add_argument_group("models")
    models.add_argument(
        "--detector",
        default="default",
        help=f"detector name ({', '.join(DETECTORS)}) or MMOCR config path (default: %(default)s)",
    )
    models.add_argument(
        "--detector-weights",
        default=None,
        help="detector checkpoint (default: the config's own weights)",
    )
    models.add_argument(
        "--split-words",
        nargs="?",
        const="ctc",
        choices=SPLIT_METHODS,
        default=None,
        help="cut the detector's regions into words, for detectors that find lines (the "
        "default detector already does): ctc (where a line reader puts spaces, the default) "
        "or ink (at gaps in the ink)",
    )
    add_recognizer_options(models)
    models.add_argument(
        "--images-per-batch",
        type=positive_int,
        default=4,
        help="images detected together; their crops share batches",
    )
    models.add_argument(
        "--min-confidence",
        type=fraction,
        default=DEFAULT_MIN_CONFIDENCE,
        help="leave out words read with a lower confidence, 0..1; 0 keeps every word "
        "(default: %(default)s)",
    )
    models.add_argument(
        "--line-reader-margin",
        type=margin_or_off,
        default=DEFAULT_LINE_READER_MARGIN,
        help="take a word's text from the line reader that cut it out of its line when that "
        "reading is surer than the recognizer's by more than this margin, -1..1; off: always "
        "the recognizer's (default: %(default)s)",
    )
    models.add_argument(
        "--line-reader-trust",
        type=fraction_or_off,
        default=DEFAULT_LINE_READER_TRUST,
        help="leave to the line reader's reading, without reading them again, words it read "
        "with at least this confidence (and 4 letters or digits or more), 0..1; off: the "
        "recognizer reads every word (default: %(default)s)",
    )


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: a pool of workers on Ray Data, on this machine or a "
        "cluster (needs --out; pip install 'ocr-pipeline[ray]') (default: %(default)s)",
    )
    engine.add_argument(
        "--address",
        default=None,
        help="with --engine ray: the cluster to join, 'auto' (this machine's, from ray start) "
        "or ray://HOST:10001; default: start a local Ray instance for the run",
    )
    engine.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="with --engine ray: workers, each with the models loaded once (default: %(default)s)",
    )
    engine.add_argument(
        "--cpus-per-worker",
        type=float,
        default=None,
        help="with --engine ray: CPUs per worker (default: a local instance's CPUs shared out "
        "among the workers; 1 on a cluster)",
    )
    engine.add_argument(
        "--gpus-per-worker",
        type=float,
        default=0.0,
        help="with --engine ray: GPUs per worker; the models then run on the worker's GPU "
        "(default: %(default)s)",
    )
    engine.add_argument(
        "--photos-per-task",
        type=positive_int,
        default=24,
        help="with --engine ray: photos handed to a worker at a time (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocr-pipeline",
        description="Find and read the text in photos (DBNet via MMOCR + CLIP4STR).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="read photos and folders of photos",
        description="Read photos. Without --out the text of each photo is printed; with --out "
        "each photo gets a JSON file there (a folder's photos keep their relative paths) and "
        "photos whose JSON exists are skipped. Bad files are named at the end and make the "
        "exit status 1.",
    )
    run.add_argument(
        "inputs",
        nargs="+",
        type=location,
        metavar="INPUT",
        help="a photo or a folder (searched recursively for common image extensions); a path "
        "or a URI such as s3://bucket/photos or gs://bucket/photos",
    )
    run.add_argument(
        "--out",
        type=location,
        default=None,
        help="output folder or URI (required for a folder input)",
    )
    run.add_argument(
        "--format",
        default=None,
        help="with --out: the files to write per photo, one or several separated by commas "
        f"({', '.join(FORMATS)}; default: json); without --out: what to print, text or json "
        "(one line per photo when there are several) (default: text)",
    )
    run.add_argument(
        "--visualize", action="store_true", help="also write an overlay picture next to each JSON"
    )
    run.add_argument("--overwrite", action="store_true", help="redo photos already done")
    _add_model_options(run)
    _add_engine_options(run)
    evaluate = commands.add_parser(
        "eval",
        help="score against ground truth (scenes.jsonl)",
        description="Detection and end-to-end precision/recall/H-mean at IoU >= 0.5; texts "
        "compared lowercase alphanumeric; ground-truth '###' regions are don't-care.",
    )
    evaluate.add_argument("scenes", type=Path, help="scenes.jsonl (image paths relative to it)")
    evaluate.add_argument(
        "--limit", type=positive_int, default=None, help="only the first N images"
    )
    explain = evaluate.add_argument_group("error analysis")
    explain.add_argument(
        "--explain",
        action="store_true",
        help="also sort every ground-truth word into one category (read right, wrong text, "
        "box cut off, box too large, merged with a neighbor, split into pieces, missed) and "
        "print the counts, and how many missed words the confidence cut-off left out (the "
        "photos are read twice: once with no cut-off)",
    )
    explain.add_argument(
        "--examples",
        type=Path,
        nargs="?",
        const=Path("explain-examples"),
        default=None,
        metavar="DIR",
        help="with --explain (implied): write crop pictures of the first words of each "
        "category and an index.tsv to DIR (default when given without DIR: %(const)s)",
    )
    explain.add_argument(
        "--per-category",
        type=positive_int,
        default=5,
        metavar="N",
        help="examples written per category (default: %(default)s)",
    )
    _add_model_options(evaluate)
    _add_serve_command(commands)
    return parser


def _add_serve_command(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="read photos sent over HTTP (and a page to try it at /)",
        description="An HTTP service: POST a photo to /v1/ocr for its result; a page at /, "
        "API docs at /docs, /healthz, /readyz and /metrics. The models load once; photos "
        "of concurrent requests are read together. Needs pip install 'ocr-pipeline[serve]'.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; see the README "
        "before opening it to a network)",
    )
    serve.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    serve.add_argument(
        "--root-path",
        default="",
        help="the path prefix a reverse proxy serves the service under, e.g. /ocr (for the "
        "links of /docs)",
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes, each with its own models and batches (default: %(default)s)",
    )
    _add_model_options(serve)
    serve.set_defaults(images_per_batch=SERVICE_PHOTOS_PER_BATCH)
    limits = serve.add_argument_group("batching and limits")
    limits.add_argument(
        "--max-wait-ms",
        type=float,
        default=10.0,
        help="milliseconds a batch waits for more photos to join it, up to "
        f"--images-per-batch ({SERVICE_PHOTOS_PER_BATCH} unless given) (default: %(default)s)",
    )
    limits.add_argument(
        "--queue-size",
        type=positive_int,
        default=16,
        help="photos waiting to be read, at most; more get 503 (default: %(default)s)",
    )
    limits.add_argument(
        "--max-upload-mb",
        type=float,
        default=20.0,
        help="largest upload, in MiB; larger get 413 (default: %(default)s)",
    )
    limits.add_argument(
        "--max-pixels",
        type=positive_int,
        default=None,
        help=f"largest photo, in pixels; larger get 413 (default: {SERVICE_MAX_PIXELS})",
    )
    limits.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds a request may take, waiting included; then 504 (default: %(default)s)",
    )
    limits.add_argument(
        "--max-connections",
        type=positive_int,
        default=64,
        help="open connections at most; more get 503 (default: %(default)s)",
    )


def run_service(args: argparse.Namespace) -> int:
    try:
        from .service.server import serve
    except ImportError as error:
        print(
            f"error: the service needs {error.name}: pip install 'ocr-pipeline[serve]'",
            file=sys.stderr,
        )
        return 2
    spec = replace(spec_from_args(args), max_pixels=args.max_pixels or SERVICE_MAX_PIXELS)
    settings = ServiceSettings(
        spec=spec,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_photos_per_batch=args.images_per_batch,
        max_wait_s=args.max_wait_ms / 1000,
        queue_size=args.queue_size,
        timeout_s=args.timeout,
    )
    serve(settings, args.host, args.port, args.workers, args.max_connections, args.root_path)
    return 0


def spec_from_args(args: argparse.Namespace) -> PipelineSpec:
    """The pipeline the command line describes."""
    return PipelineSpec(
        detector=args.detector,
        recognizer=args.recognizer,
        device=args.device,
        detector_weights=args.detector_weights,
        recognizer_backend=args.recognizer_backend,
        recognizer_precision=args.recognizer_precision,
        trust_checkpoint=args.trust_checkpoint,
        split_words={"method": args.split_words} if args.split_words else None,
        batch_size=args.batch_size,
        min_confidence=args.min_confidence,
        line_reader_margin=args.line_reader_margin,
        line_reader_trust=args.line_reader_trust,
    )


def _pipeline(args: argparse.Namespace):
    from .core import OCRPipeline  # loads the models' code

    return OCRPipeline.from_spec(spec_from_args(args))


def eval_pipeline(scenes: Path, options: Sequence[str] = ()):
    """The pipeline that ``ocr-pipeline eval SCENES OPTIONS...`` runs (for benchmarks that
    compare settings given as command-line options)."""
    return _pipeline(build_parser().parse_args(["eval", str(scenes), *options]))


PRINTABLE = ("text", "json")


def output_formats(args: argparse.Namespace) -> tuple[list[Format], str]:
    """(formats of the files written under --out, what is printed); ValueError if unknown."""
    if args.out is None:
        shown = (args.format or "text").strip().lower()
        if shown not in PRINTABLE:
            raise ValueError(
                f"--format {args.format} without --out: only text or json can be printed; "
                "give --out OUT to write files in other formats"
            )
        return [], shown
    return parse_formats(args.format or "json"), "text"


def run_photos(args: argparse.Namespace, jobs: list[Job]) -> int:
    single = len(args.inputs) == 1 and args.inputs[0].is_file()
    several = len(jobs) > 1
    formats, shown = output_formats(args)

    def show(job: Job, result: OCRResult) -> None:
        if job.stem is None or single:
            _print_result(result, job.photo, shown, several)

    if args.engine == "ray":
        report = _run_on_ray(args, jobs, formats, progress=not single)
    else:
        report = run_jobs(
            lambda: _pipeline(args),  # built only if a photo needs reading
            jobs,
            overwrite=args.overwrite,
            visualize=args.visualize,
            formats=formats,
            images_per_batch=args.images_per_batch,
            progress=args.out is not None and not single,
            on_result=show,
        )
    if args.out is not None and _all_done_before(report, jobs):
        _show_recorded(args, jobs, single)
    return _report(args, report, single)


def _run_on_ray(args, jobs: list[Job], formats: list[Format], progress: bool) -> BatchReport:
    from .ray_engine import RayOptions, run_jobs_on_ray

    options = RayOptions(
        address=args.address,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        photos_per_task=args.photos_per_task,
    )
    return run_jobs_on_ray(
        spec_from_args(args),
        jobs,
        options,
        overwrite=args.overwrite,
        visualize=args.visualize,
        formats=formats,
        images_per_batch=args.images_per_batch,
        progress=progress,
    )


# Photos whose recorded text is shown when a run finds everything done already.
SHOWN_WHEN_DONE = 20


def _all_done_before(report: BatchReport, jobs: list[Job]) -> bool:
    return bool(jobs) and report.skipped == len(jobs) and report.ok


def _show_recorded(args: argparse.Namespace, jobs: list[Job], single: bool) -> None:
    """Nothing was to do: say so, and print the text recorded for the photos."""
    count = f"all {len(jobs)} photos are" if len(jobs) > 1 else "the photo is"
    print(
        f"nothing to read: {count} already done in {args.out} (--overwrite reads them "
        "again); the text recorded there:",
        file=sys.stderr,
    )
    for job in jobs[:SHOWN_WHEN_DONE]:
        result = recorded_result(job)
        if result is None:
            print(f"note: {job.target} cannot be read as a result", file=sys.stderr)
        else:
            _print_result(result, job.photo, "text", several=not single)
    if len(jobs) > SHOWN_WHEN_DONE:
        print(f"... and {len(jobs) - SHOWN_WHEN_DONE} more in {args.out}", file=sys.stderr)


def _report(args: argparse.Namespace, report: BatchReport, single: bool) -> int:
    if report.stopped == "interrupted":
        print(
            f"stopped; {report.read} photos done, run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    if report.stopped is not None:
        print(f"stopped: {report.stopped}", file=sys.stderr)
    if single and report.failures:
        print(f"error: {report.failures[0][1]}", file=sys.stderr)
        return 1
    elsewhere = len(report.claimed_elsewhere)
    if elsewhere:
        print(
            f"note: {elsewhere} photos left to another run in progress on {args.out}; "
            "re-run to check that they were done",
            file=sys.stderr,
        )
    if single:
        return 0
    if args.out is not None:
        completed = f", {report.completed} completed from their JSON" if report.completed else ""
        left = f", {elsewhere} left to another run" if elsewhere else ""
        print(
            f"{report.read} photos read, {report.skipped} already done{completed}, "
            f"{len(report.failures)} failed{left} (outputs in {args.out})",
            file=sys.stderr,
        )
    for path, reason in report.failures:
        # Image errors name the file themselves; say it once.
        named = reason if reason.startswith(f"{path}:") else f"{path}: {reason}"
        print(f"failed: {named}", file=sys.stderr)
    return 0 if report.ok else 1


def _print_result(result: OCRResult, path: Path, fmt: str, several: bool) -> None:
    if not result.words:  # say so, beside the (empty) output
        print(f"note: no readable text found in {path}", file=sys.stderr, flush=True)
    if fmt == "json":
        print(result.to_json(indent=None) if several else result.to_json())
    elif several:
        print(f"==> {path} <==\n{result.text}\n", flush=True)
    else:
        print(result.text, flush=True)


def run_eval(args, pipeline) -> int:
    import numpy as np

    from .error_analysis import ErrorAnalysis
    from .evaluation import evaluate_scenes

    explaining = args.explain or args.examples is not None
    if args.examples is not None:
        try:
            check_writable(args.examples)
        except OSError as error:
            print(f"error: cannot write examples to {args.examples}: {error}", file=sys.stderr)
            return 2
    analysis = ErrorAnalysis(examples_per_category=args.per_category)
    on_scene = analysis.add_scene if explaining else None
    if explaining and getattr(pipeline, "min_confidence", 0) > 0:
        # A first pass keeping every word tells which missed words the cut-off left out.
        everything = words_read_without_cut_off(pipeline, args.scenes, args.limit)

        def on_scene(scene, polygons, texts):
            kept = [np.asarray(polygon) for polygon in polygons]
            left_out = [
                (polygon, text)
                for polygon, text in everything[scene["file"]]
                if not any(np.array_equal(polygon, k) for k in kept)
            ]
            analysis.add_scene(scene, polygons, texts, left_out)

    started = time.perf_counter()
    report = evaluate_scenes(pipeline, args.scenes, limit=args.limit, on_scene=on_scene)
    elapsed = time.perf_counter() - started
    print(report.format())
    print(f"speed: {report.images / elapsed:.2f} images/s ({report.images} images)")
    if explaining:
        print()
        print(analysis.format())
    if args.examples is not None:
        written = analysis.write_examples(args.examples)
        print(f"{written} example pictures and index.tsv in {args.examples}")
    return 0


def words_read_without_cut_off(pipeline, scenes, limit: int | None) -> dict[str, list]:
    """Each photo's words (polygon, text), ``pipeline`` run with no confidence cut-off."""
    from .evaluation import evaluate_scenes

    words = {}

    def keep(scene, polygons, texts):
        words[scene["file"]] = list(zip(polygons, texts))

    cut_off, pipeline.min_confidence = pipeline.min_confidence, 0.0
    try:
        evaluate_scenes(pipeline, scenes, limit=limit, on_scene=keep)
    finally:
        pipeline.min_confidence = cut_off
    return words


def _check_run_inputs(args) -> int:
    if args.engine == "ray" and args.out is None:
        print("error: --engine ray writes its results to files: give --out OUT", file=sys.stderr)
        return 2
    missing = [p for p in args.inputs if not p.exists()]
    for path in missing:
        reason = why_not_a_file(path)
        reason = "no such file or folder" if reason == "no such file" else reason
        print(f"error: {path}: {reason}", file=sys.stderr)
    if missing:
        return 2
    if args.out is None and any(p.is_dir() for p in args.inputs):
        print("error: a folder input needs --out OUT (one JSON per photo)", file=sys.stderr)
        return 2
    try:
        output_formats(args)  # a bad --format is an error before any model loads
        if args.out is not None:
            check_writable(args.out)  # and so is an output folder that cannot be written
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write results to {args.out}: {error}", file=sys.stderr)
        return 2
    for path in args.inputs:
        if path.is_file() and path.suffix.lower() not in IMAGE_EXTENSIONS:
            print(
                f"note: {path} has an unusual extension; trying to read it anyway",
                file=sys.stderr,
            )
    return 0


@contextlib.contextmanager
def _photo_warnings_as_notes() -> Iterator[None]:
    """Within: warnings about a photo (``MultiFrameWarning``) are printed as one ``note:``
    line per photo, above the progress bar; other warnings as usual."""
    shown: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", MultiFrameWarning)
        usual = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, MultiFrameWarning):
                usual(message, category, filename, lineno, file, line)
            elif str(message) not in shown:
                from tqdm import tqdm

                shown.add(str(message))
                tqdm.write(f"note: {message}", file=sys.stderr)

        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            status = _check_run_inputs(args)
            if status:
                return status
            with _photo_warnings_as_notes():
                return run_photos(args, plan_jobs(args.inputs, args.out))
        if args.command == "serve":
            return run_service(args)
        if not args.scenes.is_file():
            print(
                f"error: {args.scenes}: no such file; give a scenes.jsonl (one annotated photo "
                "per line: file, instances with polygon, text, ignore)",
                file=sys.stderr,
            )
            return 2
        return run_eval(args, _pipeline(args))
    except (WeightsUnavailableError, CheckpointError, OnnxExportError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        from .ray_engine import RayUnavailableError

        if not isinstance(error, RayUnavailableError):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # ImageError and bad arguments
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped; run the same command again to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
