"""OCR as an HTTP service: ``ocr-pipeline serve``, or ``create_app(settings)`` for any ASGI
server. Modules: ``app`` (routes, limits, errors), ``batching`` (concurrent photos read
together), ``metrics`` (Prometheus), ``settings``, ``server`` (uvicorn), ``page.html``
(the page at ``/``)."""

from .settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app", "serve"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(f"module 'pipeline.service' has no attribute {name!r}")
