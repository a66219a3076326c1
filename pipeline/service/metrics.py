"""What ``GET /metrics`` reports, in Prometheus' text format.

Each service keeps its own registry (no process-wide state), so two apps in one process
(tests) count apart. With ``--workers N`` each worker process counts its own requests;
Prometheus scrapes whichever worker answers, so scrape each worker's port or run one
worker per container when exact totals matter.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Seconds: a photo takes from a fraction of a second to tens of seconds on a CPU.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 32)


class ServiceMetrics:
    """Counters for requests, photos, words and errors; latency and batch-size histograms."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, waiting: Callable[[], int] = lambda: 0):
        registry = self.registry = CollectorRegistry()
        self.requests = Counter(
            "ocr_http_requests",
            "HTTP requests answered, by route, method and status code",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "ocr_http_request_duration_seconds",
            "Time from a request's arrival to its response, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.photos = Counter("ocr_photos", "Photos read", registry=registry)
        self.words = Counter("ocr_words", "Words in the results returned", registry=registry)
        self.errors = Counter(
            "ocr_errors",
            "OCR requests refused or failed, by reason",
            ["reason"],
            registry=registry,
        )
        self.batch_photos = Histogram(
            "ocr_batch_photos",
            "Photos read together in one batch",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.ready = Gauge("ocr_ready", "1 once the models are loaded", registry=registry)
        queued = Gauge("ocr_queue_photos", "Photos waiting to be read", registry=registry)
        queued.set_function(lambda: waiting())

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
