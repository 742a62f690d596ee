"""A real headless Chromium driven over the DevTools protocol: open a page, wait, take screenshots.

For the viewer test: nerfstudio's viewer (viser) is a web app that streams rendered images over a websocket, so
the test needs a browser that runs its JavaScript. Debian's ``chromium`` package is installed by
``tests/install-packages.sh`` (``make test``, CI); without it the tests that need a browser skip.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HeadlessBrowser:
    """One headless Chromium with one page, controlled through the DevTools websocket."""

    def __init__(self, executable: str, width: int = 1280, height: int = 800):
        self.profile = tempfile.mkdtemp(prefix="igae-chromium-")
        self.port = free_port()
        self.process = subprocess.Popen(
            [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--use-gl=swiftshader", "--enable-unsafe-swiftshader", "--no-first-run", f"--user-data-dir={self.profile}",
             f"--remote-debugging-port={self.port}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.socket = self._connect()
        self.next_id = 0

    def _connect(self):
        from websockets.sync.client import connect

        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2) as response:
                    pages = [page for page in json.load(response) if page["type"] == "page"]
                if pages:
                    return connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("headless Chromium did not start")
            time.sleep(0.2)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)

    def screenshot(self) -> np.ndarray:
        """The page as uint8 RGB [H, W, 3]."""
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> HeadlessBrowser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def save(image: np.ndarray, path: Path) -> None:
    Image.fromarray(image).save(path)
