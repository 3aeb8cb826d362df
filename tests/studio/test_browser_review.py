"""The review flow end to end in a real browser (issue 17).

A run of its own, fitted in this module and waiting for its layer-1 review: open it from
the runs page, try an invalid merge and a bad regex (the messages show, nothing is
written), rename one topic and merge two in the editor, save, watch the run resume to
its layer-2 review, approve that as it is and watch it finish; the topic tree shows the
new label and the merged topic holds both topics' records; approve the registered model
version; download the industry CSV and check its sums against assignments.parquet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from _support.browser import ARTIFACTS, browser_page, served_studio
from topicstrata.mapping import load_mapping
from topicstrata.pipeline import run_pipeline
from topicstrata.pipeline.topic import build_pipeline
from topicstrata.registry import APPROVED, get_version, resolve_tracking_uri

from .conftest import StudioRoot, _params

MODEL = "studio-e2e"
#: A fit of 400 records resumed twice: generous for 2 shared cores.
RESUME_TIMEOUT_MS = 300_000


@dataclass(frozen=True)
class Review:
    root: Path
    run_id: str
    folder: Path
    data: Path


@pytest.fixture(scope="module")
def review(studio_root: StudioRoot, tmp_path_factory: pytest.TempPathFactory) -> Review:
    root = tmp_path_factory.mktemp("studio-e2e")
    params = _params(root, studio_root.data, "run", auto_approve=False, model_name=MODEL)
    params["cache_dir"] = str(studio_root.root / "cache")
    waiting = run_pipeline(build_pipeline(2), params, root=root)
    assert waiting.status == "waiting"
    return Review(root, waiting.run_id, root / "run", studio_root.data)


@pytest.fixture(scope="module")
def tab(review: Review) -> Iterator[tuple[Page, str]]:
    with served_studio(review.root) as url, browser_page() as (page, _):
        yield page, url


def _row(page: Page, path: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#topics tr[data-path="{path}"]').first


def test_review_in_the_editor_resumes_the_run_to_the_end(
    tab: tuple[Page, str], review: Review
) -> None:
    page, url = tab
    folder_before = sorted(p.name for p in review.folder.iterdir())
    draft = load_mapping(review.folder / "mapping.v1.draft.yaml")
    kept = [e for e in draft.topics if e.path != "-1"]
    renamed, merged, into = kept[0], kept[1], kept[2]

    page.goto(f"{url}/runs")
    page.click(f'a[href="/runs/{review.run_id}"]')
    expect(page.locator("#review-call h2")).to_have_text("Review layer 1")
    page.click("#open-editor")
    expect(page.locator("h1")).to_contain_text("mapping.v1.draft.yaml")
    page.screenshot(path=str(ARTIFACTS / "studio-editor.png"), full_page=True)

    # Invalid: merge a topic into itself. The message shows next to it; nothing is written.
    _row(page, merged.path).locator("select.action").select_option("merge")
    _row(page, merged.path).locator("select.merge-into").select_option(merged.path)
    page.click("#save")
    expect(page.locator("#form-errors")).to_contain_text(f"merges topic {merged.path} into itself")
    expect(page.locator(f'tr.row-errors[data-path="{merged.path}"]')).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "studio-editor-error.png"), full_page=True)

    # Invalid: a bad regular expression; Try says so before saving, saving refuses it.
    page.goto(f"{url}/runs/{review.run_id}/mapping")
    new_rule = page.locator("#rules tr.rule").last
    new_rule.locator("input.pattern").fill("([a-z")
    new_rule.locator("input[type=checkbox]").check()
    new_rule.locator("button.try-rule").click()
    expect(new_rule.locator(".trial")).to_contain_text("unterminated character set")
    page.click("#save")
    expect(page.locator("#form-errors")).to_contain_text("is not a valid regular expression")
    assert sorted(p.name for p in review.folder.iterdir()) == folder_before

    # A phrase rule tried, then left out; a rename and a merge saved: the run resumes.
    page.goto(f"{url}/runs/{review.run_id}/mapping")
    keyword = renamed.keywords[0]
    new_rule = page.locator("#rules tr.rule").last
    new_rule.locator("input.pattern").fill(keyword)
    new_rule.locator("button.try-rule").click()
    expect(new_rule.locator(".trial")).to_contain_text("records")
    expect(new_rule.locator(".trial")).to_contain_text("catches")
    new_rule.locator("input.pattern").fill("")
    _row(page, renamed.path).locator("input.label").fill("Renamed in the browser")
    _row(page, merged.path).locator("select.action").select_option("merge")
    _row(page, merged.path).locator("select.merge-into").select_option(into.path)
    page.click("#save")

    # The run page follows the resumed run to its next review...
    expect(page.locator("#review-call h2")).to_have_text(
        "Review layer 2", timeout=RESUME_TIMEOUT_MS
    )
    expect(page.locator("#job-log")).to_contain_text("review_2")
    page.screenshot(path=str(ARTIFACTS / "studio-run-resumed.png"), full_page=True)
    # The saved version against the model's draft (drafts are gone once the run finishes).
    page.goto(
        f"{url}/runs/{review.run_id}/mappings/compare?a=mapping.v1.draft.yaml&b=mapping.v1.r2.yaml"
    )
    expect(page.locator("#changes")).to_contain_text("Renamed in the browser")
    expect(page.locator('#summary tr[data-kind="merged"] td')).to_have_text("1")
    expect(page.locator('#summary tr[data-kind="moved"] td')).to_have_text(str(merged.size))
    page.screenshot(path=str(ARTIFACTS / "studio-compare-mappings.png"), full_page=True)
    page.goto(f"{url}/runs/{review.run_id}")
    # ... and, approved as it is, to the end.
    page.click("#approve-draft button")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=RESUME_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "studio-run-finished.png"), full_page=True)

    page.click("#open-tree")
    expect(_row(page, renamed.path)).to_contain_text("Renamed in the browser")
    expect(page.locator(f'#topics tr[data-path="{merged.path}"]')).to_have_count(0)
    size = _row(page, into.path).locator("td.num").first.inner_text()
    assert int(size.replace(",", "")) == merged.size + into.size
    assignments = pd.read_parquet(review.folder / "assignments.parquet", columns=["path_l1"])
    assert (assignments["path_l1"] == into.path).sum() == merged.size + into.size


def test_approve_the_registered_version_and_download_the_industry_csv(
    tab: tuple[Page, str], review: Review
) -> None:
    page, url = tab
    uri = resolve_tracking_uri(None, review.root)
    if get_version(MODEL, 1, tracking_uri=uri).approval_status == APPROVED:
        pytest.fail("version 1 is approved before the test approves it")
    page.goto(f"{url}/registry")
    row = page.locator(f'tr[data-model="{MODEL}"][data-version="1"]')
    row.locator('form[action="/registry/approve"] button').click()
    expect(page.locator(f'tr[data-model="{MODEL}"][data-version="1"] .status')).to_have_text(
        "approved"
    )
    assert get_version(MODEL, 1, tracking_uri=uri).approval_status == APPROVED
    page.screenshot(path=str(ARTIFACTS / "studio-registry-approved.png"), full_page=True)

    page.goto(f"{url}/runs/{review.run_id}/analytics?level=1")
    with page.expect_download() as download:
        page.locator("a.csv").first.click()
    table = pd.read_csv(download.value.path(), dtype={"use_case": str}).set_index("use_case")
    assignments = pd.read_parquet(review.folder / "assignments.parquet", columns=["id", "path_l1"])
    source = pd.read_parquet(review.data, columns=["id", "industry"])
    joined = assignments.merge(source, on="id", how="left", validate="one_to_one")
    expected = pd.crosstab(joined["path_l1"].astype(str), joined["industry"])
    assert sorted(table.index) == sorted(expected.index)
    for use_case, counts in expected.iterrows():
        for industry, n in counts.items():
            assert table.loc[use_case, industry] == n, (use_case, industry)
        assert table.loc[use_case, "total"] == counts.sum()
    assert table["total"].sum() == len(assignments)
