"""The Runs and Run pages read the store: statuses, filter, steps, review call, errors."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from _support.studio import plotly_data, row_of
from topicstrata.pipeline import describe_run
from topicstrata.studio import create_app
from topicstrata.studio.dagview import STATUS_COLOURS


def test_runs_page_lists_each_run_with_its_status(client, studio_root):
    page = client.get("/runs")
    assert page.status_code == 200
    for run_id, word in (
        (studio_root.succeeded, "succeeded"),
        (studio_root.waiting, "waiting for review"),
        (studio_root.failed, "failed"),
    ):
        row = row_of(page.text, "data-run", run_id)
        assert re.search(rf'class="status status-\w+">{word}<', row), row
        assert f'href="/runs/{run_id}"' in row


def test_status_filter_shows_only_that_status(client, studio_root):
    page = client.get("/runs", params={"status": "waiting"})
    assert page.status_code == 200
    listed = re.findall(r'<tr data-run="([^"]+)"', page.text)
    assert listed == [studio_root.waiting]


def test_unknown_status_is_a_422_page_naming_the_parameter(client):
    page = client.get("/runs", params={"status": "done"})
    assert page.status_code == 422
    assert "status=&#39;done&#39;" in page.text
    assert "succeeded" in page.text
    assert "Traceback" not in page.text


def test_runs_are_paged(client):
    first = client.get("/runs", params={"per_page": 1})
    assert len(re.findall(r"<tr data-run=", first.text)) == 1
    assert "Page 1 of 3" in first.text
    assert client.get("/runs", params={"per_page": 1, "page": 4}).status_code == 422


def test_run_page_shows_every_stored_step_with_status_and_cache(client, studio_root):
    page = client.get(f"/runs/{studio_root.succeeded}")
    assert page.status_code == 200
    stored = describe_run(studio_root.root, studio_root.succeeded)["steps"]
    assert stored
    for step in stored:
        row = row_of(page.text, "data-step", step["step"])
        assert f"status-{step['status']}" in row
        assert ("<td>hit</td>" in row) == bool(step["cache_hit"])
    assert 'id="open-tree"' in page.text
    assert 'id="review-call"' not in page.text


def test_run_page_lists_lineage_when_the_store_has_it(client, studio_root):
    lineage = describe_run(studio_root.root, studio_root.succeeded)["lineage"]
    assert lineage, "the pipeline records lineage"
    page = client.get(f"/runs/{studio_root.succeeded}")
    for row in lineage[:5]:
        assert row["sha256"] in page.text


def test_waiting_run_shows_the_review_call(client, studio_root):
    page = client.get(f"/runs/{studio_root.waiting}")
    assert page.status_code == 200
    assert 'id="review-call"' in page.text
    assert "Review layer 1" in page.text
    assert f"strata pipeline resume {studio_root.waiting}" in page.text


def test_failed_run_shows_its_error(client, studio_root):
    page = client.get(f"/runs/{studio_root.failed}")
    assert page.status_code == 200
    assert 'id="run-error"' in page.text
    assert "planted failure for the studio tests" in page.text
    assert 'class="step-error"' in page.text


def test_unknown_run_is_a_404_page_naming_it(client):
    page = client.get("/runs/no-such-run")
    assert page.status_code == 404
    assert "no-such-run" in page.text
    assert "strata pipeline list" in page.text


def test_an_empty_root_shows_no_runs_and_creates_nothing(tmp_path):
    client = TestClient(create_app(tmp_path))
    page = client.get("/runs")
    assert page.status_code == 200
    assert 'id="no-runs"' in page.text
    assert not (tmp_path / ".strata").exists()


def test_run_page_draws_the_dag_coloured_by_status(client, studio_root):
    page = client.get(f"/runs/{studio_root.waiting}")
    steps = describe_run(studio_root.root, studio_root.waiting)["steps"]
    nodes = plotly_data(page.text, "dag-chart")[1]
    colour = dict(zip(nodes["text"], nodes["marker"]["color"], strict=True))
    assert {s["step"] for s in steps} <= set(colour)
    for step in steps:
        assert colour[step["step"]] == STATUS_COLOURS[step["status"]], step["step"]
    assert colour["review_1"] == STATUS_COLOURS["waiting"]
    assert colour["layer_2"] == STATUS_COLOURS["pending"]  # not reached before the review
