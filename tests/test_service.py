"""``ocr-pipeline serve``: a real server on a loopback port, spoken to over HTTP.

Most tests serve stand-in stages (fast, and able to be slow or fail on purpose); the last
ones start the command itself with the default models, as a user does.
"""

import base64
import io
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from conftest import REPO
from PIL import Image
from service_helpers import ServerInThread, start_command, stop_command, wait_until_ready

from pipeline import OCRPipeline
from pipeline.result import OCRResult
from pipeline.service import ServiceSettings, create_app
from pipeline.spec import PipelineSpec
from pipeline.stages import Detection
from recognizer import Reading

DEMO = REPO / "demo"


class HalvesDetector:
    """Two regions on every photo, its left and right halves; ``delay`` seconds per call.
    Records the number of photos of each call; fails on photos 13 pixels wide."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.calls: list[int] = []

    def detect(self, images):
        self.calls.append(len(images))
        time.sleep(self.delay)
        found = []
        for image in images:
            h, w = image.shape[:2]
            if w == 13:
                raise RuntimeError("the detector fails on this photo")
            left = np.array([[0, 0], [w / 2, 0], [w / 2, h], [0, h]], np.float32)
            right = left + np.array([w / 2, 0], np.float32)
            found.append([Detection(left, 0.9), Detection(right, 0.8)])
        return found


class SizeReader:
    """Reads a crop as its size; confidence 0.95 for the left half, 0.5 for the right.
    Waits for ``gate`` (when given) before each read."""

    def __init__(self, gate: threading.Event | None = None):
        self.gate = gate

    def read(self, crops, batch_size=64):
        if self.gate is not None:
            self.gate.wait(30)
        readings = []
        for i, crop in enumerate(crops):
            h, w = np.asarray(crop).shape[:2]
            readings.append(Reading(f"{w}x{h}", 0.95 if i % 2 == 0 else 0.5, [0.9]))
        return readings


def stand_in(detector=None, reader=None) -> OCRPipeline:
    return OCRPipeline(
        detector or HalvesDetector(), reader or SizeReader(), min_confidence=0, orient_pages=False
    )


def png(width: int, height: int, color="white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def serve():
    """``serve(pipeline, **settings)``: the service on a loopback port; its URL."""
    servers = []

    def start(pipeline, **settings):
        spec = PipelineSpec(min_confidence=pipeline.min_confidence, max_pixels=pipeline.max_pixels)
        server = ServerInThread(create_app(ServiceSettings(spec=spec, **settings), pipeline))
        servers.append(server.__enter__())
        wait_until_ready(server.url, timeout=10)
        return server.url

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def post(url: str, data: bytes, name: str = "photo.png", **params) -> httpx.Response:
    return httpx.post(f"{url}/v1/ocr", files={"file": (name, data)}, params=params, timeout=60)


def wait_for_metric(url: str, name: str, value: float, timeout: float = 30) -> None:
    """Wait until ``/metrics`` reports ``name`` (without labels) at ``value``."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(rf"^{name} (\S+)$", httpx.get(f"{url}/metrics").text, re.M)
        if found and float(found[1]) == value:
            return
        assert time.monotonic() < deadline, f"{name} never reached {value}"
        time.sleep(0.05)


# ---------------------------------------------------------------------------------- reading


def test_a_multipart_upload_gets_the_result_json_the_pipeline_gives(serve):
    pipeline = stand_in()
    url = serve(pipeline)
    response = post(url, png(80, 30), name="sign.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    expected = pipeline.ocr(np.asarray(Image.open(io.BytesIO(png(80, 30))))).to_dict()
    expected["image"]["path"] = "sign.png"  # the upload's name
    assert response.json() == expected
    assert OCRResult.from_dict(response.json()).text == "40x30 40x30"


def test_the_raw_body_is_a_photo_too(serve):
    url = serve(stand_in())
    response = httpx.post(
        f"{url}/v1/ocr", content=png(60, 20), headers={"Content-Type": "image/png"}
    )
    assert response.status_code == 200
    assert response.json()["image"] == {"path": None, "width": 60, "height": 20, "orientation": 0}


@pytest.mark.parametrize(
    "fmt, media_type, start",
    [
        ("text", "text/plain; charset=utf-8", b"30x20 30x20"),
        ("tsv", "text/tab-separated-values; charset=utf-8", b"level\tpage_num"),
        ("hocr", "text/html; charset=utf-8", b"<?xml"),
        ("alto", "application/xml", b"<?xml"),
        ("page", "application/xml", b"<?xml"),
        ("pdf", "application/pdf", b"%PDF"),
    ],
)
def test_each_output_format_is_served_with_its_media_type(serve, fmt, media_type, start):
    url = serve(stand_in())
    response = post(url, png(60, 20), format=fmt)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content.startswith(start)


def test_min_confidence_leaves_out_less_confident_words(serve):
    url = serve(stand_in())
    every = post(url, png(80, 30)).json()
    confident = post(url, png(80, 30), min_confidence=0.9).json()
    assert [w["confidence"] for w in every["words"]] == [0.95, 0.5]
    assert [w["confidence"] for w in confident["words"]] == [0.95]


def test_overlay_adds_the_photo_with_its_words_drawn_as_a_jpeg(serve):
    url = serve(stand_in())
    result = post(url, png(120, 40), overlay="true").json()
    prefix = "data:image/jpeg;base64,"
    assert result["overlay"].startswith(prefix)
    picture = Image.open(io.BytesIO(base64.b64decode(result["overlay"][len(prefix) :])))
    assert (picture.format, picture.size) == ("JPEG", (120, 40))
    drawn = np.asarray(picture.convert("RGB")).astype(int)
    assert (np.abs(drawn - 255).sum(axis=2) > 60).any()  # not the white photo alone
    assert "overlay" not in post(url, png(120, 40)).json()


# ---------------------------------------------------------------------------------- refusals


def test_bad_input_is_refused_with_a_status_and_a_message_and_the_service_goes_on(serve):
    url = serve(stand_in(), max_upload_bytes=50_000)
    photo = png(64, 32)
    refusals = {
        "too large an upload": (post(url, bytes(60_000)), 413, "larger than the limit"),
        "not an image": (post(url, b"%PDF-1.4 not a photo"), 415, "not an image"),
        "cut short": (post(url, photo[: len(photo) // 2]), 422, "corrupt or truncated"),
        "empty": (post(url, b""), 422, "holds no photo"),
        "no file": (
            httpx.post(f"{url}/v1/ocr", data={"note": "hello"}, files={"x": ("", b"")}),
            422,
            "",
        ),
        "unknown format": (post(url, photo, format="docx"), 422, "json"),
        "confidence over 1": (post(url, photo, min_confidence=2), 422, "less than or equal"),
        "overlay without json": (post(url, photo, format="text", overlay="true"), 422, "json"),
    }
    for what, (response, status, message) in refusals.items():
        assert response.status_code == status, what
        assert message in json.dumps(response.json()["detail"]), what
    assert post(url, photo).status_code == 200


def test_an_upload_without_content_length_is_cut_off_at_the_limit(serve):
    url = serve(stand_in(), max_upload_bytes=50_000)

    def chunks():
        for _ in range(20):
            yield bytes(10_000)

    response = httpx.post(f"{url}/v1/ocr", content=chunks(), timeout=30)
    assert response.status_code == 413
    assert "50000 bytes" in response.json()["detail"]
    assert post(url, png(40, 20)).status_code == 200


def test_a_photo_with_too_many_pixels_gets_413_naming_its_size(serve):
    pipeline = stand_in()
    pipeline.max_pixels = 100_000
    url = serve(pipeline)
    response = post(url, png(400, 300))
    assert response.status_code == 413
    assert "400x300 is 120000 pixels" in response.json()["detail"]
    assert post(url, png(300, 300)).status_code == 200


def test_a_full_queue_answers_503_with_retry_after_and_the_queued_photos_are_still_read(serve):
    gate = threading.Event()
    url = serve(stand_in(reader=SizeReader(gate)), max_photos_per_batch=1, queue_size=1)
    with ThreadPoolExecutor(2) as pool:
        reading = pool.submit(post, url, png(40, 20))  # taken, then held at the gate
        wait_for_metric(url, "ocr_batch_photos_count", 1)
        queued = pool.submit(post, url, png(50, 20))  # waits in the queue
        wait_for_metric(url, "ocr_queue_photos", 1)
        refused = post(url, png(60, 20))
        gate.set()
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert "waiting" in refused.json()["detail"]
        assert reading.result().json()["text"] == "20x20 20x20"
        assert queued.result().json()["text"] == "25x20 25x20"


def test_a_request_not_read_in_time_gets_504_and_the_next_is_read(serve):
    gate = threading.Event()
    url = serve(stand_in(reader=SizeReader(gate)), timeout_s=0.5)
    response = post(url, png(40, 20))
    assert response.status_code == 504
    assert "0.5 s" in response.json()["detail"]
    gate.set()
    assert post(url, png(40, 20)).status_code == 200


def test_a_photo_the_pipeline_fails_on_gets_500_alone_and_its_batch_mates_are_read(serve):
    detector = HalvesDetector(delay=0.3)
    url = serve(stand_in(detector), max_photos_per_batch=3, max_wait_s=5)
    with ThreadPoolExecutor(3) as pool:
        good = [pool.submit(post, url, png(w, 20)) for w in (40, 50)]
        bad = pool.submit(post, url, png(13, 20))
        responses = [future.result() for future in good]
    assert [r.status_code for r in responses] == [200, 200]
    assert bad.result().status_code == 500
    assert "the detector fails on this photo" in bad.result().json()["detail"]
    assert max(detector.calls) == 3  # the three were tried together first
    assert post(url, png(40, 20)).status_code == 200


def test_models_that_fail_to_load_make_readyz_and_requests_say_why():
    spec = PipelineSpec(recognizer="/nowhere/model.ckpt")
    with ServerInThread(create_app(ServiceSettings(spec=spec))) as server:
        ready = wait_until_ready(server.url, timeout=60, accept=(503,))
        deadline = time.monotonic() + 60
        while ready.json()["reason"] == "loading models" and time.monotonic() < deadline:
            time.sleep(0.2)
            ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503
        assert "/nowhere/model.ckpt" in ready.json()["reason"]
        response = post(server.url, png(40, 20))
        assert response.status_code == 503
        assert "models not loaded" in response.json()["detail"]
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


# ---------------------------------------------------------------------------------- batching


def test_concurrent_requests_are_read_together_and_each_gets_its_own_result(serve):
    detector = HalvesDetector(delay=0.2)
    url = serve(stand_in(detector), max_photos_per_batch=8, max_wait_s=1)
    widths = [40, 60, 80, 100, 120, 140, 160, 180]
    with ThreadPoolExecutor(len(widths)) as pool:
        responses = list(pool.map(lambda w: post(url, png(w, 30)), widths))
    assert all(r.status_code == 200 for r in responses)
    texts = [r.json()["text"] for r in responses]
    assert texts == [f"{w // 2}x30 {w // 2}x30" for w in widths]
    assert max(detector.calls) > 1, detector.calls  # several photos in one detector batch
    assert sum(detector.calls) == len(widths)
    batches = re.search(r"^ocr_batch_photos_count (\d+)", httpx.get(f"{url}/metrics").text, re.M)
    assert int(batches[1]) == len(detector.calls) < len(widths)


# ---------------------------------------------------------------------------------- endpoints


def test_health_readiness_and_metrics(serve):
    url = serve(stand_in())
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    post(url, png(80, 30))
    post(url, b"not an image")
    metrics = httpx.get(f"{url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=")
    text = metrics.text
    for line in (
        "ocr_photos_total 1.0",
        "ocr_words_total 2.0",
        'ocr_errors_total{reason="not_an_image"} 1.0',
        'ocr_http_requests_total{method="POST",route="/v1/ocr",status="200"} 1.0',
        'ocr_http_requests_total{method="POST",route="/v1/ocr",status="415"} 1.0',
        'ocr_http_request_duration_seconds_count{route="/v1/ocr"} 2.0',
        "ocr_queue_photos 0.0",
        "ocr_ready 1.0",
    ):
        assert line in text, line


def test_openapi_docs_are_served_from_the_package_without_another_site(serve):
    url = serve(stand_in())
    docs = httpx.get(f"{url}/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", docs.text)
    assert "/docs/assets/swagger-ui-bundle.js" in assets
    for asset in assets:
        assert asset.startswith("/"), asset  # nothing from a CDN
        assert httpx.get(f"{url}{asset}").status_code == 200, asset
    schema = httpx.get(f"{url}/openapi.json").json()
    operation = schema["paths"]["/v1/ocr"]["post"]
    assert {"multipart/form-data", "image/*"} <= set(operation["requestBody"]["content"])
    assert {"format", "min_confidence", "overlay"} <= {p["name"] for p in operation["parameters"]}
    assert {"413", "415", "422", "503", "504"} <= set(operation["responses"])
    for path in ("/healthz", "/readyz", "/metrics"):
        assert path in schema["paths"]


def test_the_page_is_one_file_that_loads_nothing_from_elsewhere(serve):
    url = serve(stand_in())
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    addresses = set(re.findall(r"https?://[^\s\"'<>)]+", page.text))
    assert addresses <= {"http://www.w3.org/2000/svg"}  # the SVG namespace is a name
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["'][^"'#]""", page.text)


# ---------------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def default_service():
    """``ocr-pipeline serve`` with the default models, started as a user starts it."""
    process, url = start_command("--max-wait-ms", "20", cwd=REPO)
    try:
        wait_until_ready(url, timeout=300, process=process)
        yield url
    finally:
        stop_command(process)


@pytest.mark.slow
def test_the_command_serves_the_default_models_and_reads_as_the_pipeline_does(default_service):
    names = ["mall_sign.jpg", "blue_plaque.jpg", "book_page.jpg"]
    with ThreadPoolExecutor(len(names)) as pool:  # together, so that they share batches
        responses = list(
            pool.map(lambda n: post(default_service, (DEMO / n).read_bytes(), name=n), names)
        )
    pipeline = OCRPipeline()  # the same default models, in this process
    for name, response in zip(names, responses):
        assert response.status_code == 200, response.text
        expected = pipeline.ocr(DEMO / name).to_dict()
        expected["image"]["path"] = name
        assert response.json() == expected
        assert expected["words"]


@pytest.mark.slow
def test_the_command_stops_cleanly_on_ctrl_c_and_says_so():
    process, url = start_command(cwd=REPO)
    wait_until_ready(url, timeout=300, accept=(200, 503), process=process)
    output = stop_command(process)
    assert process.returncode == 0, output
    assert "Uvicorn running on http://127.0.0.1:" in output
    assert "Shutting down" in output


def test_serve_help_lists_the_options_without_loading_models():
    from conftest import run_module

    done = run_module("pipeline.cli", "serve", "--help")
    assert done.returncode == 0
    for option in (
        "--host",
        "--port",
        "--workers",
        "--max-upload-mb",
        "--queue-size",
        "--timeout",
        "--max-wait-ms",
        "--images-per-batch",
        "--min-confidence",
    ):
        assert option in done.stdout, option


# ---------------------------------------------------------------------------------- the page

CHROMIUM = "/usr/bin/chromium"
# Headless Chromium as root, on a machine without a network: no sandbox, no GPU, and none
# of the background connections that would each wait for a network that is not there.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no {CHROMIUM}: install Debian's chromium package (see .ci/run)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _green_outlines(picture: Image.Image) -> np.ndarray:
    """Where the page drew a word's outline: the pixels of its green stroke."""
    rgb = np.asarray(picture.convert("RGB")).astype(int)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (green > 170) & (red < 90) & (blue < 90)


@pytest.mark.slow
def test_the_page_reads_a_dropped_photo_shows_its_words_and_gives_text_and_json(
    default_service, browser
):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=default_service)
    page = context.new_page()
    page.goto(f"{default_service}/")
    page.set_input_files("#file", str(DEMO / "blue_plaque.jpg"))
    page.wait_for_selector("#words polygon", timeout=120_000)
    served = post(default_service, (DEMO / "blue_plaque.jpg").read_bytes()).json()
    outlines = page.locator("#words polygon")
    assert outlines.count() == len(served["words"])
    assert "words read" in page.inner_text("#status")

    # Pointing at a word shows its text and confidence.
    index = [w["text"] for w in served["words"]].index("Octavia")
    outlines.nth(index).hover()
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    assert tooltip.locator(".word-text").inner_text() == "Octavia"
    assert re.fullmatch(r"\d+\.\d%", tooltip.locator(".word-confidence").inner_text())
    page.mouse.move(0, 0)
    tooltip.wait_for(state="hidden")

    # The outlines are drawn where the words are: every green stroke pixel of the picture
    # lies on a word's box, and every word's box holds some.
    figure = page.locator("#figure")
    shot = Image.open(io.BytesIO(figure.screenshot()))
    drawn = _green_outlines(shot)
    scale = shot.width / served["image"]["width"]
    near_words = np.zeros_like(drawn)
    for word in served["words"]:
        xs, ys = zip(*word["polygon"])
        left, top = int(min(xs) * scale) - 3, int(min(ys) * scale) - 3
        right, bottom = int(max(xs) * scale) + 4, int(max(ys) * scale) + 4
        assert drawn[max(top, 0) : bottom, max(left, 0) : right].sum() > 20, word["text"]
        near_words[max(top, 0) : bottom, max(left, 0) : right] = True
    assert drawn.sum() > 500
    assert (drawn & ~near_words).sum() < 0.01 * drawn.sum()
    page.add_style_tag(content="#words { display: none }")
    assert _green_outlines(Image.open(io.BytesIO(figure.screenshot()))).sum() < 0.05 * drawn.sum()

    # The full text copies; the JSON downloads.
    page.click("#copy")
    assert page.evaluate("navigator.clipboard.readText()") == served["text"]
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "blue_plaque.jpg.json"
    saved = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert saved["text"] == served["text"] and saved["image"]["path"] == "blue_plaque.jpg"

    # A file that is no photo: the page says what the service said.
    page.set_input_files("#file", str(REPO / "README.md"))
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status").startswith("415: ")
    context.close()


def test_settings_travel_to_worker_processes_as_json_unchanged():
    settings = ServiceSettings(
        spec=PipelineSpec(recognizer="clip4str-base", split_words={}, labels={"site": "a"}),
        max_upload_bytes=1234,
        max_photos_per_batch=3,
        timeout_s=9.5,
        threads=2,
    )
    assert ServiceSettings.from_json(settings.to_json()) == settings
