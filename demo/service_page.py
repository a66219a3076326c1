"""The README's picture of the service's page: a photo read, a word pointed at.

    python demo/service_page.py demo/blue_plaque.jpg Octavia OUT.png

Serves the default models on a free loopback port (as ``ocr-pipeline serve`` does), opens
the page in headless Chromium (Debian's ``chromium``, driven by Playwright), picks the
photo, points at the first word that reads WORD and takes a screenshot of the page.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from pipeline.service import ServiceSettings, create_app

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def serve_in_background() -> str:
    """The service in a thread of this process, its models loaded; its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(ServiceSettings()), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.5)


def main(photo: Path, word: str, out: Path) -> None:
    url = serve_in_background()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 560})
        page.goto(url)
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("#words polygon", timeout=120_000)
        page.locator(f'#words polygon[aria-label^="{word},"]').first.hover()
        page.wait_for_selector("#tooltip", state="visible")
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
