"""Headless Chromium (Debian's) and a studio served by uvicorn, for the browser tests.

Playwright drives /usr/bin/chromium (installed by `make install` with apt); it downloads
no browser of its own. Tests skip only where no Chromium is found, and fail instead in
CI, where `make test` installs it. Screenshots land in tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

from topicstrata.studio import create_app

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    if os.environ.get("CI"):
        pytest.fail("CI must run the browser tests, but no Chromium is at /usr/bin/chromium")
    pytest.skip(
        "no Chromium found at /usr/bin/chromium: install Debian's package "
        "(`apt-get install -y chromium`, which `make install` does where apt is available)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_studio(root: Path) -> Iterator[str]:
    """The studio over ``root`` served by uvicorn in a thread on a free loopback port."""
    port = free_port()
    config = uvicorn.Config(create_app(root), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the studio server stopped while starting"
        assert time.monotonic() < deadline, "the studio server did not start in 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def browser_page() -> Iterator[tuple[Page, list[str]]]:
    """A headless Chromium page, and every URL it requested."""
    executable = chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        tab = context.new_page()
        tab.on("request", lambda request: requested.append(request.url))
        try:
            yield tab, requested
        finally:
            context.close()
            browser.close()
