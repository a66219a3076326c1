"""Running the service with uvicorn: one process, or ``workers`` processes that each load
the models and batch their own requests (the settings reach them through the environment).
"""

from __future__ import annotations

import copy
import os
from dataclasses import replace

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from .app import create_app
from .settings import ServiceSettings

SETTINGS_VARIABLE = "OCR_PIPELINE_SERVICE_SETTINGS"


def serve(
    settings: ServiceSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    max_connections: int | None = None,
    root_path: str = "",
) -> None:
    """Serve until interrupted. ``max_connections``: uvicorn answers 503 to connections
    beyond it (each may hold an upload of up to ``settings.max_upload_bytes``);
    ``root_path``: the prefix a reverse proxy serves the service under."""
    options = dict(
        host=host,
        port=port,
        root_path=root_path,
        limit_concurrency=max_connections,
        timeout_graceful_shutdown=int(settings.timeout_s),
        log_config=_logging_config(),
    )
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    if settings.threads is None:  # the worker processes share the cores
        threads = max(1, (os.cpu_count() or 1) // workers)
        settings = replace(settings, threads=threads)
    os.environ[SETTINGS_VARIABLE] = settings.to_json()
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=workers, **options)


def app_from_environment():
    """The app in a worker process started by ``serve(workers=N)``."""
    return create_app(ServiceSettings.from_json(os.environ[SETTINGS_VARIABLE]))


def _logging_config() -> dict:
    """uvicorn's own logging, with the service's messages (models loaded, a photo failed)
    printed beside its own."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["ocr_pipeline"] = {"handlers": ["default"], "level": "INFO"}
    return config
