"""``ServiceSettings``: which models the service loads and the limits it keeps."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from ..spec import PipelineSpec

# A service holds several photos at once (queued, being read): its default pixel limit is
# below the command line's (150 MP), and still takes a 50 MP phone photo (8160 x 6120).
SERVICE_MAX_PIXELS = 50_000_000
SERVICE_PHOTOS_PER_BATCH = 8


@dataclass(frozen=True)
class ServiceSettings:
    """The pipeline to build (``spec``) and what one service process allows.

    ``max_upload_bytes``: the largest request body (413 above it);
    ``max_photos_per_batch``: photos of concurrent requests read together;
    ``max_wait_s``: how long the first photo of a batch waits for others to join it;
    ``queue_size``: photos waiting to be read, at most (503 when full);
    ``timeout_s``: a request not answered by then gets 504;
    ``threads``: PyTorch threads (None: PyTorch's own default).
    """

    spec: PipelineSpec = field(default_factory=lambda: PipelineSpec(max_pixels=SERVICE_MAX_PIXELS))
    max_upload_bytes: int = 20 * 1024 * 1024
    max_photos_per_batch: int = SERVICE_PHOTOS_PER_BATCH
    max_wait_s: float = 0.01
    queue_size: int = 16
    timeout_s: float = 60.0
    threads: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServiceSettings:
        data = json.loads(text)
        return replace(cls(), **{**data, "spec": PipelineSpec(**data["spec"])})
