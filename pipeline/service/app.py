"""The HTTP service: ``create_app(settings)`` is an ASGI app (FastAPI) around one pipeline.

- ``POST /v1/ocr``: a photo (multipart field ``file``, or the raw body) -> its result;
- ``GET /``: a page to drop a photo on and see its words;
- ``GET /healthz`` (the process answers), ``GET /readyz`` (the models are loaded),
  ``GET /metrics`` (Prometheus), ``GET /docs`` (OpenAPI, served from the package).

The models load in a background thread once the server is up, so that liveness answers at
once and readiness says when requests can be read. Photos of concurrent requests are read
together (``batching.PhotoBatcher``). Every refusal is an HTTP status with a message in
``detail``, and none of them stops the service: 413 (body or pixels over the limit), 415
(not an image), 422 (damaged image, no photo in the request, bad option), 503 with
Retry-After (queue full, models not loaded yet), 504 (not read in time), 500 (the pipeline
failed on this photo).
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import PurePath
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.staticfiles import StaticFiles

from recognizer import ImageError, ImageTooLargeError, NotAnImageError

from ..batch import ChunkReader
from ..formats import FORMATS, Photo
from ..photos import load_photo
from ..result import OCRResult
from .batching import PhotoBatcher, ServiceBusy
from .metrics import ServiceMetrics
from .settings import ServiceSettings

log = logging.getLogger("ocr_pipeline.service")

FormatQuery = Annotated[
    Literal[tuple(FORMATS)],  # type: ignore[valid-type]
    Query(description="what to return: the result JSON or the file of another format"),
]
MinConfidenceQuery = Annotated[
    float | None,
    Query(
        ge=0,
        le=1,
        description="leave out words read with a lower confidence (default: the service's "
        "--min-confidence); 0 keeps every word",
    ),
]
OverlayQuery = Annotated[
    bool,
    Query(
        description="with format=json: add `overlay`, the photo with the words drawn on it, "
        "as a data: URL of a JPEG"
    ),
]
# Seconds a client is told to wait while the models load.
RETRY_WHILE_LOADING_S = 5


@dataclass
class OCRService:
    """The state behind the routes: settings, metrics, and (once loaded) the batcher."""

    settings: ServiceSettings
    pipeline: ChunkReader | None = None  # ready stages (tests); None: built from the spec
    metrics: ServiceMetrics = field(init=False)
    batcher: PhotoBatcher | None = None
    load_error: str | None = None

    def __post_init__(self):
        self.metrics = ServiceMetrics(waiting=lambda: self.batcher.waiting if self.batcher else 0)

    def start(self) -> None:
        threading.Thread(target=self._load, name="ocr-service-load", daemon=True).start()

    def stop(self) -> None:
        if self.batcher is not None:
            self.batcher.stop()

    def _load(self) -> None:
        settings = self.settings
        try:
            if settings.threads:
                import torch

                torch.set_num_threads(settings.threads)
            if self.pipeline is None:
                from ..core import OCRPipeline  # loads the models' code

                self.pipeline = OCRPipeline.from_spec(settings.spec)
            batcher = PhotoBatcher(
                self.pipeline,
                max_photos=settings.max_photos_per_batch,
                max_wait_s=settings.max_wait_s,
                queue_size=settings.queue_size,
                on_batch=self.metrics.batch_photos.observe,
            )
        except Exception as error:  # noqa: BLE001 - reported by /readyz and each request
            self.load_error = str(error) or type(error).__name__
            log.error("the models could not be loaded: %s", self.load_error)
            return
        batcher.start()
        self.batcher = batcher
        self.metrics.ready.set(1)
        log.info("models loaded; ready for requests")

    def setting(self, name: str):
        """``min_confidence`` or ``max_pixels``: the pipeline's own when it was given ready,
        else the spec's."""
        return getattr(self.pipeline, name, getattr(self.settings.spec, name))

    def refuse(self, status: int, reason: str, detail: str, headers=None) -> HTTPException:
        self.metrics.errors.labels(reason).inc()
        return HTTPException(status, detail, headers)

    def admit(self) -> PhotoBatcher:
        """The batcher, when it can take a photo now; otherwise the 503 to answer."""
        batcher = self.batcher
        if batcher is None:
            if self.load_error is not None:
                raise self.refuse(503, "not_ready", f"models not loaded: {self.load_error}")
            raise self.refuse(
                503,
                "not_ready",
                "the models are still loading; try again shortly",
                {"Retry-After": str(RETRY_WHILE_LOADING_S)},
            )
        if batcher.is_full():
            raise self._busy(batcher, f"{self.settings.queue_size} photos are waiting already")
        return batcher

    def _busy(self, batcher: PhotoBatcher, why: str) -> HTTPException:
        wait = max(1, math.ceil(batcher.expected_wait_s()))
        return self.refuse(503, "busy", f"busy: {why}; try again later", {"Retry-After": str(wait)})

    async def read(self, data: bytes, min_confidence: float) -> OCRResult:
        """The result for one uploaded photo, read in a batch with others."""
        batcher = self.admit()
        try:
            future = batcher.submit(data, min_confidence)
        except ServiceBusy as error:
            raise self._busy(batcher, str(error)) from None
        timeout = self.settings.timeout_s
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:  # not the built-in TimeoutError before Python 3.11
            future.cancel()  # skipped if still queued
            raise self.refuse(
                504, "timeout", f"not read within {timeout:g} s; try again later"
            ) from None
        except ImageTooLargeError as error:
            raise self.refuse(413, "too_large", str(error)) from None
        except NotAnImageError as error:
            raise self.refuse(415, "not_an_image", str(error)) from None
        except ImageError as error:
            raise self.refuse(422, "unreadable", str(error)) from None
        except ServiceBusy as error:  # the service stopped while the photo waited
            raise self.refuse(503, "busy", str(error), {"Retry-After": "1"}) from None
        except Exception as error:  # noqa: BLE001 - this photo fails, the service goes on
            raise self.refuse(500, "failed", f"reading the photo failed: {error}") from None


class UploadTooLarge(Exception):
    """A request body longer than the service accepts."""

    def __init__(self, limit: int):
        super().__init__(
            f"the upload is larger than the limit of {limit} bytes "
            f"({limit / 2**20:g} MiB); send a smaller photo"
        )


ASGIApp = Callable[..., Awaitable[None]]


def limit_uploads(app: ASGIApp, service: OCRService) -> ASGIApp:
    """ASGI middleware: a body declared longer than the limit is refused before it is read;
    one that turns out longer (no or a false Content-Length) raises ``UploadTooLarge`` in
    whoever reads it, which answers 413."""
    limit = service.settings.max_upload_bytes

    async def limited_app(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            service.metrics.errors.labels("too_large").inc()
            response = JSONResponse({"detail": str(UploadTooLarge(limit))}, 413)
            return await response(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise UploadTooLarge(limit)
            return message

        return await app(scope, limited_receive, send)

    return limited_app


def count_requests(app: ASGIApp, metrics: ServiceMetrics) -> ASGIApp:
    """ASGI middleware: every HTTP request counted by route, method and status, and timed."""

    async def counted_app(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it answers

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "other")  # the template, not the URL
            metrics.requests.labels(route, scope["method"], str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)

    return counted_app


PHOTO_BODY = {
    "required": True,
    "description": "The photo: a multipart upload (field `file`) or the raw file as the body.",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    },
}
OCR_RESPONSES = {
    200: {
        "description": "The result in the format asked for: JSON (the result schema of "
        "`pipeline/result.py`, with `overlay` added when asked), or the bytes of a text, "
        "TSV, hOCR, ALTO, PAGE-XML or PDF file.",
        "content": {fmt.media_type.split(";")[0]: {} for fmt in FORMATS.values()},
    },
    413: {"description": "The upload or its pixel count is over the limit."},
    415: {"description": "The upload is not an image."},
    422: {"description": "Damaged image, no photo in the request, or a bad option."},
    503: {"description": "Queue full or models not loaded yet; see Retry-After."},
    504: {"description": "Not read within the service's time limit."},
}


routes = APIRouter()


@routes.post(
    "/v1/ocr",
    summary="Read a photo",
    responses=OCR_RESPONSES,
    openapi_extra={"requestBody": PHOTO_BODY},
)
async def ocr(
    request: Request,
    format: FormatQuery = "json",
    min_confidence: MinConfidenceQuery = None,
    overlay: OverlayQuery = False,
) -> Response:
    service: OCRService = request.app.state.service
    fmt = FORMATS[format]
    if overlay and fmt.name != "json":
        raise service.refuse(
            422, "bad_request", "overlay=true comes with format=json only (it is a JSON key)"
        )
    data, name = await _read_upload(request, service)
    if min_confidence is None:
        min_confidence = service.setting("min_confidence")
    result = await service.read(data, min_confidence)
    result.path = name
    service.metrics.photos.inc()
    service.metrics.words.inc(len(result.words))
    # The photo again, for what shows it, with the pipeline's own size limit.
    image = None
    if overlay or fmt.needs_image:
        image = await run_in_threadpool(load_photo, data, service.setting("max_pixels"))
    if fmt.name == "json":
        content = result.to_dict()
        if overlay:
            content["overlay"] = await run_in_threadpool(_overlay_url, image, result)
        return JSONResponse(content)
    body = await run_in_threadpool(fmt.render, result, Photo(name, image))
    return Response(body, media_type=fmt.media_type)


@routes.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse(_page())


@routes.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict:
    return {"status": "ok"}


@routes.get(
    "/readyz",
    summary="Readiness: the models are loaded",
    responses={503: {"description": "Not ready (loading, or loading failed)."}},
)
async def readyz(request: Request) -> JSONResponse:
    service: OCRService = request.app.state.service
    if service.batcher is not None:
        models = getattr(service.pipeline, "models", {})
        return JSONResponse({"ready": True, "models": dict(models)})
    reason = service.load_error or "loading models"
    return JSONResponse({"ready": False, "reason": reason}, 503)


@routes.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    counted = request.app.state.service.metrics
    return Response(counted.exposition(), media_type=counted.content_type)


@routes.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=root + request.app.openapi_url,
        title="ocr-pipeline API",
        swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
        swagger_favicon_url=f"{root}/docs/assets/favicon-32x32.png",
    )


async def _too_large(request: Request, error: UploadTooLarge) -> JSONResponse:
    request.app.state.service.metrics.errors.labels("too_large").inc()
    return JSONResponse({"detail": str(error)}, 413)


def create_app(settings: ServiceSettings | None = None, pipeline: ChunkReader | None = None):
    """The service as an ASGI app. ``pipeline``: a ready pipeline to use instead of building
    ``settings.spec`` (tests, or one built in Python); its ``min_confidence`` and
    ``max_pixels`` then apply."""
    service = OCRService(settings or ServiceSettings(), pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        yield
        service.stop()

    app = FastAPI(
        title="ocr-pipeline",
        summary="Find and read the text in photos (DBNet + CLIP4STR).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.include_router(routes)
    app.add_exception_handler(UploadTooLarge, _too_large)
    app.mount("/docs/assets", StaticFiles(directory=_swagger_ui_folder()), name="docs-assets")
    return count_requests(limit_uploads(app, service), service.metrics)


async def _read_upload(request: Request, service: OCRService) -> tuple[bytes, str | None]:
    """The photo's bytes and, from a multipart upload, its file name (without folders)."""
    service.admit()  # refused before the body is read: a full queue takes no more memory
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=8) as form:
            uploads = [value for value in form.values() if isinstance(value, UploadFile)]
            if not uploads:
                raise service.refuse(
                    422,
                    "unreadable",
                    "the multipart request has no file: send the photo in a field named file",
                )
            data = await uploads[0].read()
            name = PurePath(uploads[0].filename or "").name or None
    else:
        data, name = await request.body(), None
    if not data:
        raise service.refuse(422, "unreadable", "the request holds no photo (empty body)")
    return data, name


def _overlay_url(image, result: OCRResult) -> str:
    from ..visualize import draw_overlay

    buffer = io.BytesIO()
    draw_overlay(image, result).save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@cache
def _page() -> str:
    return (files(__package__) / "page.html").read_text(encoding="utf-8")


def _swagger_ui_folder() -> str:
    import swagger_ui_bundle

    return str(swagger_ui_bundle.swagger_ui_path)
