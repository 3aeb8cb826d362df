"""End to end in Debian's headless Chromium: runs -> run -> topic tree, with screenshots.

See ``_support/browser.py``: Debian's /usr/bin/chromium, never a downloaded browser;
skipped only where none is found (a failure in CI). Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from _support.browser import ARTIFACTS, browser_page, served_studio

from .conftest import ROWS


@pytest.fixture(scope="module")
def base_url(studio_root) -> Iterator[str]:
    with served_studio(studio_root.root) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url) -> Iterator[tuple[Page, list[str]]]:
    with browser_page() as opened:
        yield opened


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


def test_document_map_and_compare_pages_draw(page, base_url, studio_root):
    tab, requested = page
    requested.clear()
    tab.goto(f"{base_url}/runs/{studio_root.succeeded}")
    tab.click("#open-map")
    # The first map is computed in the background; the page reloads itself until it is.
    expect(tab.locator("#map .main-svg").first).to_be_visible(timeout=180_000)
    expect(tab.locator("#map-summary")).to_contain_text(f"{ROWS} of {ROWS} records shown")
    tab.fill("#map-search", "cloud")
    expect(tab.locator("#map-matches")).to_contain_text("match")
    tab.screenshot(path=str(ARTIFACTS / "studio-map.png"), full_page=True)

    tab.goto(f"{base_url}/compare?a={studio_root.succeeded}&b={studio_root.succeeded}&level=1")
    expect(tab.locator(".main-svg").first).to_be_visible(timeout=20_000)
    expect(tab.locator('#summary tr[data-kind="moved"] td')).to_have_text("0")
    tab.screenshot(path=str(ARTIFACTS / "studio-compare.png"), full_page=True)
    outside = [url for url in requested if not url.startswith(base_url)]
    assert outside == [], f"pages loaded something from elsewhere: {outside}"
