"""End to end in Debian's headless Chromium: runs -> run -> topic tree, with screenshots.

Playwright drives /usr/bin/chromium (installed by `make install` with apt);
it downloads no browser of its own. The tests skip only where no Chromium is
found, and fail instead in CI, where `make test` installs it. Screenshots land
in tests/artifacts/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from topicstrata.studio import create_app

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    if os.environ.get("CI"):
        pytest.fail("CI must run the browser tests, but no Chromium is at /usr/bin/chromium")
    pytest.skip(
        "no Chromium found at /usr/bin/chromium: install Debian's package "
        "(`apt-get install -y chromium`, which `make install` does where apt is available)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(studio_root) -> Iterator[str]:
    """The studio served by uvicorn in a thread on a free loopback port."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(studio_root.root), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the studio server stopped while starting"
        assert time.monotonic() < deadline, "the studio server did not start in 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(base_url) -> Iterator[tuple[Page, list[str]]]:
    """A headless Chromium page, and every URL it requested."""
    executable = _chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.on("request", lambda request: requested.append(request.url))
        yield tab, requested
        context.close()
        browser.close()


def test_click_from_runs_to_the_topic_tree(page, base_url, studio_root):
    tab, requested = page
    tab.goto(f"{base_url}/runs")
    expect(tab.locator(f'tr[data-run="{studio_root.succeeded}"] .status')).to_have_text("succeeded")
    expect(tab.locator(f'tr[data-run="{studio_root.waiting}"] .status')).to_have_text(
        "waiting for review"
    )
    tab.screenshot(path=str(ARTIFACTS / "studio-runs.png"), full_page=True)

    tab.click(f'a[href="/runs/{studio_root.succeeded}"]')
    expect(tab.locator("#run-status")).to_have_text("succeeded")
    expect(tab.locator("#steps tbody tr").first).to_be_visible()
    tab.screenshot(path=str(ARTIFACTS / "studio-run.png"), full_page=True)

    tab.click("#open-tree")
    # Plotly (served by the studio itself) has drawn the sunburst.
    expect(tab.locator("#sunburst-chart .main-svg").first).to_be_visible(timeout=20_000)
    tab.screenshot(path=str(ARTIFACTS / "studio-tree.png"), full_page=True)
    tab.click('button[data-show="treemap"]')
    expect(tab.locator("#treemap-chart .main-svg").first).to_be_visible(timeout=20_000)
    tab.screenshot(path=str(ARTIFACTS / "studio-treemap.png"), full_page=True)

    tab.locator("#topics tbody a").first.click()
    expect(tab.locator("#topic-size")).to_be_visible()
    tab.screenshot(path=str(ARTIFACTS / "studio-topic.png"), full_page=True)

    assert requested, "the browser requested nothing"
    outside = [url for url in requested if not url.startswith(base_url)]
    assert outside == [], f"pages loaded something from elsewhere: {outside}"


def test_waiting_run_shows_the_review_call(page, base_url, studio_root):
    tab, _ = page
    tab.goto(f"{base_url}/runs?status=waiting")
    tab.click(f'a[href="/runs/{studio_root.waiting}"]')
    expect(tab.locator("#review-call h2")).to_have_text("Review layer 1")
    tab.screenshot(path=str(ARTIFACTS / "studio-run-waiting.png"), full_page=True)


def test_analytics_and_registry_pages_render(page, base_url, studio_root):
    tab, _ = page
    tab.goto(f"{base_url}/runs/{studio_root.succeeded}/analytics")
    expect(tab.locator("#industry-heatmap .main-svg").first).to_be_visible(timeout=20_000)
    expect(tab.locator("#industry-table tbody tr").first).to_be_visible()
    tab.screenshot(path=str(ARTIFACTS / "studio-analytics.png"), full_page=True)
    tab.goto(f"{base_url}/registry")
    expect(tab.locator("h1")).to_have_text("Registry")
    tab.screenshot(path=str(ARTIFACTS / "studio-registry.png"), full_page=True)
