"""Starting the service for a test: a real uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerInThread:
    """The app served by uvicorn in a thread of the test process, on its own loopback port."""

    def __init__(self, app):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> ServerInThread:
        self.thread.start()
        wait_until_ready(self.url, timeout=30, accept=(200, 503))
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


def wait_until_ready(url: str, timeout: float, accept=(200,), process=None) -> httpx.Response:
    """Poll ``/readyz`` until its status is one of ``accept``; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"the server exited ({process.returncode}): {process_output(process)}"
            )
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
            if response.status_code in accept:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} not ready within {timeout} s")
        time.sleep(0.2)


def start_command(*args: str, cwd: Path) -> tuple[subprocess.Popen, str]:
    """``ocr-pipeline serve ARGS`` as a user starts it, on a free port; (process, url)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def stop_command(process: subprocess.Popen) -> str:
    """Interrupt the server as Ctrl-C does; its output."""
    process.send_signal(2)  # SIGINT
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def process_output(process: subprocess.Popen) -> str:
    try:
        output, _ = process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        return "(still running)"
    return output
