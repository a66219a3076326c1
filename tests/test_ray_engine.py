"""``ocr-pipeline run --engine ray``: the batch run on Ray Data, on a real local Ray instance
(2 CPUs), compared file by file with the local engine on real photos.

One Ray instance serves the module (starting one takes seconds); each run's actors load the
models once. S3 is a real S3 API (moto's server) on a loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.cli import main

ray = pytest.importorskip("ray", reason="the ray extra: pip install -e '.[ray]'")

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "icdar2015_dev_scenes" / "images"
PHOTOS = ["img_1.jpg", "img_10.jpg", "img_100.jpg", "img_11.jpg"]
BAD = {"empty.png": b"", "sub/not_a_photo.jpg": b"this is text, not a JPEG\n"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on loopback; set in the environment before Ray starts, so that
    Ray's workers reach it too."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    yield f"http://127.0.0.1:{port}"
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def local_ray(s3_endpoint):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    """Real photos with bad files mixed in."""
    folder = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        shutil.copy(DEV / name, folder / name)
    for name, data in BAD.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def local_results(photo_folder, tmp_path_factory) -> dict[str, bytes]:
    """What the local engine writes for the folder: the reference."""
    out = tmp_path_factory.mktemp("local")
    assert main(["run", str(photo_folder), "--out", str(out)]) == 1  # the bad files
    return {name: (out / f"{name}.json").read_bytes() for name in PHOTOS}


def _ray_run(inputs, out, *options: str) -> list[str]:
    return ["run", str(inputs), "--out", str(out), "--engine", "ray", *options]


def test_the_ray_engine_writes_what_the_local_engine_writes(
    local_ray, photo_folder, local_results, tmp_path, capsys
):
    out = tmp_path / "ray"
    status = main(_ray_run(photo_folder, out, "--workers", "2", "--photos-per-task", "2"))
    err = capsys.readouterr().err
    assert status == 1  # bad files make the exit status 1, as with the local engine
    for name in PHOTOS:
        assert (out / f"{name}.json").read_bytes() == local_results[name], name
    for name in BAD:
        assert err.count(f"failed: {photo_folder / name}:") == 1, err
    assert f"{len(PHOTOS)} photos read, 0 already done, {len(BAD)} failed" in err
    assert not list(out.rglob("*.claim")) and not list(out.rglob("*.tmp"))


def test_a_worker_killed_midway_loses_and_repeats_no_photo(
    local_ray, photo_folder, local_results, tmp_path, capsys
):
    """The worker's process is killed while it holds a photo (its claim file names its
    process): Ray restarts it and hands its photos over again."""
    out = tmp_path / "ray"
    killed: list[int] = []

    def kill_the_worker_once_it_has_written_a_photo():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            claims = list(out.glob("*.claim"))
            if claims and list(out.glob("*.jpg.json")):
                pid = json.loads(claims[0].read_text() or "{}").get("pid")
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_once_it_has_written_a_photo)
    killer.start()
    status = main(_ray_run(photo_folder, out, "--photos-per-task", "8", "--images-per-batch", "1"))
    killer.join()
    err = capsys.readouterr().err
    assert killed, "the worker finished before it could be killed"
    assert status == 1
    for name in PHOTOS:
        assert (out / f"{name}.json").read_bytes() == local_results[name], name
    # Every photo counted once: read by one worker or the other, or found done on the retry.
    counts = err.splitlines()[-len(BAD) - 1]
    read, done = int(counts.split(" photos read, ")[0]), int(counts.split(", ")[1].split()[0])
    assert read + done == len(PHOTOS), counts
    for name in BAD:
        assert err.count(f"failed: {photo_folder / name}:") == 1, err


def test_a_stopped_run_goes_on_where_it_stopped(photo_folder, tmp_path, local_ray):
    """A run stopped with Ctrl-C (in another process, joining this module's Ray instance as
    a cluster) leaves whole files only; the same command again reads only the photos not
    yet done."""
    out = tmp_path / "ray"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "pipeline.cli", *_ray_run(photo_folder, out)]
    command += ["--photos-per-task", "1", "--address", "auto", "--cpus-per-worker", "2"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and not list(out.glob("*.jpg.json")):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jpg.json")}
    assert first and len(first) < len(PHOTOS), err
    assert not list(out.rglob("*.tmp"))
    for path in out.glob("*.jpg.json"):
        json.loads(path.read_text())  # whole

    status = main(_ray_run(photo_folder, out))
    assert status == 1
    for name, mtime in first.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was read again"
    assert len(list(out.glob("*.jpg.json"))) == len(PHOTOS)


def test_photos_and_results_in_s3(local_ray, photo_folder, local_results, s3_endpoint, capsys):
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket="archive")
    uploaded = PHOTOS[:2]  # and a bad file
    for name in [*uploaded, "empty.png"]:
        body = (photo_folder / name).read_bytes()
        client.put_object(Bucket="archive", Key=f"photos/{name}", Body=body)

    status = main(_ray_run("s3://archive/photos", "s3://archive/results"))
    err = capsys.readouterr().err
    assert status == 1
    for name in uploaded:
        written = json.loads(
            client.get_object(Bucket="archive", Key=f"results/{name}.json")["Body"].read()
        )
        expected = json.loads(local_results[name])
        assert written["image"]["path"] == f"s3://archive/photos/{name}"
        written["image"]["path"] = expected["image"]["path"]
        assert written == expected, name
    assert "failed: s3://archive/photos/empty.png: the file is empty" in err

    assert main(_ray_run("s3://archive/photos", "s3://archive/results")) == 1
    assert f"0 photos read, {len(uploaded)} already done" in capsys.readouterr().err


def test_without_ray_the_error_says_how_to_install_it(monkeypatch, photo_folder, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    status = main(_ray_run(photo_folder / PHOTOS[0], tmp_path / "out"))
    err = capsys.readouterr().err
    assert status == 2
    assert "pip install 'ocr-pipeline[ray]'" in err


def test_the_ray_engine_needs_an_output_folder(photo_folder, capsys):
    status = main(["run", str(photo_folder / PHOTOS[0]), "--engine", "ray"])
    assert status == 2
    assert "--engine ray writes its results to files: give --out OUT" in capsys.readouterr().err


def test_a_model_the_workers_cannot_load_is_named(local_ray, photo_folder, tmp_path, capsys):
    status = main(_ray_run(photo_folder / PHOTOS[0], tmp_path / "out", "--recognizer", "nosuch"))
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2
    assert err.startswith("error: the Ray run failed: ")
    assert "'nosuch' is neither a checkpoint path nor a known recognizer name" in err
