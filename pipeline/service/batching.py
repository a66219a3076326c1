"""Dynamic batching: the photos of concurrent requests are read together.

One thread owns the models. It waits for a photo, gathers whatever else arrives within
``max_wait_s`` (up to ``max_photos``), and reads them as one chunk: one detector batch,
their crops in shared recognizer batches. While a chunk is read, new photos queue, so
under load the next chunk is full and starts at once; alone, a photo waits ``max_wait_s``.

The queue is bounded: a photo that finds it full is refused (``ServiceBusy``) at once,
never held. A photo whose request gave up (its future cancelled) is skipped. A chunk whose
reading fails is read again photo by photo, so that only the photo at fault fails.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from recognizer import ImageError

from ..batch import ChunkReader

log = logging.getLogger("ocr_pipeline.service")


class ServiceBusy(RuntimeError):
    """The queue of photos is full (or the service is stopping): try again later."""


@dataclass
class PendingPhoto:
    """An uploaded photo waiting to be read; ``future`` gets its ``OCRResult`` or error."""

    data: bytes
    min_confidence: float
    future: Future = field(default_factory=Future)


class PhotoBatcher:
    """Reads submitted photos in batches on its own thread (``start``, ``stop``).

    ``on_batch(photos)`` is called with the size of each batch read (for metrics).
    """

    def __init__(
        self,
        pipeline: ChunkReader,
        *,
        max_photos: int = 8,
        max_wait_s: float = 0.01,
        queue_size: int = 16,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.pipeline = pipeline
        self.max_photos = max_photos
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._queue: queue.Queue[PendingPhoto] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._seconds_per_photo = 1.0  # a running average, updated after each batch
        self._thread = threading.Thread(target=self._run, name="ocr-service-reader", daemon=True)

    @property
    def waiting(self) -> int:
        """Photos queued and not yet taken into a batch."""
        return self._queue.qsize()

    def is_full(self) -> bool:
        return self._queue.full()

    def expected_wait_s(self) -> float:
        """Roughly how long a photo queued now would wait, from the recent reading speed."""
        return self.waiting * self._seconds_per_photo

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking photos; the batch being read finishes, queued photos are refused."""
        self._stopping.set()
        self._thread.join(timeout)
        while True:
            try:
                photo = self._queue.get_nowait()
            except queue.Empty:
                return
            if photo.future.set_running_or_notify_cancel():
                photo.future.set_exception(ServiceBusy("the service is stopping"))

    def submit(self, data: bytes, min_confidence: float) -> Future:
        """Queue a photo; its future gets the result or the error. ``ServiceBusy`` when
        the queue is full or the service is stopping."""
        if self._stopping.is_set():
            raise ServiceBusy("the service is stopping")
        photo = PendingPhoto(data, min_confidence)
        try:
            self._queue.put_nowait(photo)
        except queue.Full:
            raise ServiceBusy(f"{self._queue.maxsize} photos are waiting already") from None
        return photo.future

    # ------------------------------------------------------------------ the reader thread

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._gather()
            if batch:
                if self.on_batch is not None:
                    self.on_batch(len(batch))
                self._read(batch)

    def _gather(self) -> list[PendingPhoto]:
        """The next batch: the first photo to come, and those that join it in time."""
        try:
            batch = [self._queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        closes = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_photos:
            try:
                batch.append(self._queue.get(timeout=max(0.0, closes - time.monotonic())))
            except queue.Empty:
                break
        # Requests that gave up meanwhile are dropped here; the rest can no longer be cancelled.
        return [photo for photo in batch if photo.future.set_running_or_notify_cancel()]

    def _read(self, batch: list[PendingPhoto]) -> None:
        started = time.monotonic()
        self._read_together(batch)
        spent = (time.monotonic() - started) / len(batch)
        self._seconds_per_photo += 0.2 * (spent - self._seconds_per_photo)

    def _read_together(self, batch: list[PendingPhoto]) -> None:
        try:
            chunk = self.pipeline.detect_chunk([photo.data for photo in batch])
            cut_offs = [photo.min_confidence for photo in batch]
            outcomes = [outcome for _, outcome in self.pipeline.read_chunk(chunk, cut_offs)]
        except Exception as error:  # noqa: BLE001 - handed to the requests, never raised here
            if len(batch) > 1:
                log.warning(
                    "a batch of %d photos failed (%r); reading them one by one", len(batch), error
                )
                for photo in batch:
                    self._read_together([photo])
                return
            log.exception("reading a photo failed")
            batch[0].future.set_exception(error)
            return
        for photo, outcome in zip(batch, outcomes):
            if isinstance(outcome, ImageError):
                photo.future.set_exception(outcome)
            else:
                photo.future.set_result(outcome)
