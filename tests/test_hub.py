"""Named recognizers: released weights come from the Hub (or a local file), never silently."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from conftest import DATA, released_layout_checkpoint

import recognizer
from recognizer.hub import RELEASED, WeightsUnavailableError, download_released, locate_weights

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OCR_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path / "home"


def test_offline_error_names_the_file_and_where_to_put_it(isolated_home, tmp_path):
    with pytest.raises(WeightsUnavailableError) as info:
        download_released(RELEASED["clip4str-base"], cache_dir=tmp_path / "empty-cache")
    message = str(info.value)
    assert "clip4str_base_6e9fe947ac.pt" in message and "mzhaoshuai/CLIP4STR" in message
    assert str(isolated_home / "models" / "clip4str_base_6e9fe947ac.pt") in message


def test_weights_placed_by_hand_are_used_without_network(isolated_home, reference):
    placed = isolated_home / "models" / RELEASED["clip4str-large"].filename
    placed.parent.mkdir(parents=True)
    torch.save(released_layout_checkpoint(reference), placed)
    assert locate_weights("clip4str-large") == placed
    model = recognizer.load("clip4str-large")
    assert model.config.clip.embed_dim == 64


def test_unknown_names_list_the_known_ones():
    with pytest.raises(WeightsUnavailableError, match="clip4str-base"):
        recognizer.load("clip4str-gigantic")


class _FakeHub(BaseHTTPRequestHandler):
    """Serves one file the way the Hugging Face Hub's resolve endpoint does."""

    files: dict = {}
    requests: list = []

    def _headers(self, body: bytes) -> None:
        etag = hashlib.sha256(body).hexdigest()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Linked-Etag", f'"{etag}"')
        self.send_header("X-Linked-Size", str(len(body)))
        self.send_header("X-Repo-Commit", COMMIT)
        self.end_headers()

    def _lookup(self):
        self.requests.append((self.command, self.path))
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        return body

    def do_HEAD(self):  # noqa: N802 (http.server naming)
        body = self._lookup()
        if body is not None:
            self._headers(body)

    def do_GET(self):  # noqa: N802
        body = self._lookup()
        if body is not None:
            self._headers(body)
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub(reference, tmp_path):
    path = tmp_path / "served.ckpt"
    torch.save(released_layout_checkpoint(reference), path)
    weights = RELEASED["clip4str-base"]
    _FakeHub.files = {f"/{weights.repo_id}/resolve/main/{weights.filename}": path.read_bytes()}
    _FakeHub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_released_weights_download_into_the_cache_once(
    fake_hub, isolated_home, tmp_path, monkeypatch
):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    cache = tmp_path / "hf-cache"
    weights = RELEASED["clip4str-base"]
    first = download_released(weights, cache_dir=cache, endpoint=fake_hub)
    assert first.is_file() and cache in first.parents
    assert any(method == "GET" for method, _ in _FakeHub.requests)
    model = recognizer.CLIP4STR.from_checkpoint(first)
    assert model.config.clip.vision_width == 64

    # Offline again, the cached copy is found without the server.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    _FakeHub.requests.clear()
    assert download_released(weights, cache_dir=cache, endpoint=fake_hub) == first
    assert _FakeHub.requests == []


def test_default_name_refers_to_the_embedded_weights(monkeypatch, tmp_path):
    import recognizer.hub as hub

    monkeypatch.setattr(hub, "DEFAULT_WEIGHTS", tmp_path / "nowhere")
    with pytest.raises(WeightsUnavailableError, match="default recognizer weights"):
        recognizer.load("default")


def test_the_default_stands_on_the_pretrained_encoder_and_the_earlier_one_loads_by_name():
    default = recognizer.load("default")
    earlier = recognizer.load("small-scratch")
    assert default.config.clip.image_tower == "textline"
    assert default.config.image_size == (48, 192)
    assert earlier.config.clip.image_tower == "vit" and earlier.config.image_size == (32, 128)
    assert "small-scratch" in recognizer.KNOWN_NAMES
    # Both read a real crop; the names are not two spellings of one model.
    crop = DATA / "iiit5k_test" / "test" / "1002_1.png"
    assert default.read([crop])[0].text.lower() == earlier.read([crop])[0].text.lower()
    assert default.state_dict().keys() != earlier.state_dict().keys()
