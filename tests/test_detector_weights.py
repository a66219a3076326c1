"""Detector weights: downloaded once from a config's ``load_from``, clear errors without them.

A server on loopback stands in for MMOCR's model zoo; the checkpoint it serves is a real
DBNet-R18 checkpoint in MMOCR's format (freshly initialized weights: only loading matters).
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from conftest import REPO

from pipeline.openmmlab.compat import apply_openmmlab_workarounds
from recognizer.hub import WeightsUnavailableError

apply_openmmlab_workarounds()

from pipeline.openmmlab.detector import MMOCRDetector, download_checkpoint  # noqa: E402

DBNET_CONFIG = REPO / "detector_configs" / "dbnet_resnet18_fpnc_icdar2015.py"
MARKED = "det_head.binarize.0.weight"


class _ModelZoo(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server naming)
        self.requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def model_zoo():
    _ModelZoo.files, _ModelZoo.requests = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelZoo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def dbnet_checkpoint() -> bytes:
    import io

    from mmengine import Config
    from mmocr.registry import MODELS
    from mmocr.utils import register_all_modules

    register_all_modules()
    model = MODELS.build(Config.fromfile(str(DBNET_CONFIG)).model)
    state = model.state_dict()
    state[MARKED].fill_(0.125)  # recognisable once loaded
    buffer = io.BytesIO()
    torch.save({"meta": {"mmocr_version": "1.0.1"}, "state_dict": state}, buffer)
    return buffer.getvalue()


def test_checkpoint_downloads_once_into_the_torch_hub_cache(model_zoo, torch_home):
    _ModelZoo.files["/zoo/dbnet.pth"] = b"weights" * 1000
    first = download_checkpoint(f"{model_zoo}/zoo/dbnet.pth")
    assert first == str(torch_home / "dbnet.pth")
    assert (torch_home / "dbnet.pth").read_bytes() == b"weights" * 1000
    assert download_checkpoint(f"{model_zoo}/zoo/dbnet.pth") == first
    assert _ModelZoo.requests == ["/zoo/dbnet.pth"]  # the second call used the cache


def test_without_network_the_error_names_the_url_and_where_to_put_the_file(model_zoo, torch_home):
    url = f"{model_zoo}/zoo/missing.pth"
    with pytest.raises(WeightsUnavailableError) as error:
        download_checkpoint(url)
    message = str(error.value)
    assert url in message and str(torch_home / "missing.pth") in message
    assert not (torch_home / "missing.pth").exists()  # no half-downloaded file left


@pytest.mark.slow
def test_dbnet_config_downloads_its_weights_and_detects(model_zoo, torch_home, tmp_path):
    _ModelZoo.files["/zoo/dbnet_r18.pth"] = dbnet_checkpoint()
    config = tmp_path / "my_dbnet.py"
    config.write_text(
        f"_base_ = {str(DBNET_CONFIG)!r}\nload_from = '{model_zoo}/zoo/dbnet_r18.pth'\n"
    )
    detector = MMOCRDetector(config)
    assert (torch_home / "dbnet_r18.pth").is_file()
    loaded = dict(detector._inferencer.model.state_dict())[MARKED]
    assert torch.all(loaded == 0.125), "the downloaded weights were not loaded"
    image = np.full((160, 320, 3), 255, np.uint8)
    (detections,) = detector.detect([image])
    assert isinstance(detections, list)  # fresh weights find nothing in particular


def test_a_config_without_weights_is_refused_instead_of_running_random_weights(tmp_path):
    config = tmp_path / "no_weights.py"
    config.write_text(f"_base_ = {str(DBNET_CONFIG)!r}\nload_from = None\n")
    with pytest.raises(WeightsUnavailableError, match="--detector-weights"):
        MMOCRDetector(config)
