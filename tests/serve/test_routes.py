"""Topics, model card, health, readiness after warm-up, metrics, problem details."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from _support.serve import as_payload
from topicstrata.ensemble.predictor import TopicPredictor
from topicstrata.serve import create_app


def test_topics_list_the_served_tree(client: TestClient, run_dir: Path) -> None:
    response = client.get("/v1/topics")
    assert response.status_code == 200
    body = response.json()
    fitted = pd.read_parquet(run_dir / "topics.parquet")
    kept = fitted[fitted["path"] == fitted["final_path"]]
    assert [t["path"] for t in body["topics"]] == kept["path"].tolist()
    by_path = {t["path"]: t for t in body["topics"]}
    for row in kept.itertuples():
        topic = by_path[row.path]
        assert topic["label"] == row.label
        assert topic["size"] == row.size
        assert topic["parent"] == (row.parent or None)
        assert topic["level"] == row.level
        assert topic["keywords"]
    assert body["mapping_version"] == 2


def test_one_topic_has_phrases_children_and_representative_records(
    client: TestClient, run_dir: Path
) -> None:
    tree = client.get("/v1/topics").json()["topics"]
    top = next(t for t in tree if t["level"] == 1)
    detail = client.get(f"/v1/topics/{top['path']}").json()
    assert detail["children"] == [t["path"] for t in tree if t["parent"] == top["path"]]
    assert detail["children"]
    fitted = pd.read_parquet(run_dir / "topics.parquet").set_index("path")
    assert [r["id"] for r in detail["representative_records"]] == list(
        fitted.loc[top["path"], "representative_ids"]
    )
    views = pd.read_parquet(run_dir / "views.parquet").set_index("id")["embed_text"]
    for record in detail["representative_records"]:
        assert record["text"] == views[record["id"]]
    leaf = client.get(f"/v1/topics/{detail['children'][0]}").json()
    assert leaf["parent"] == top["path"] and leaf["level"] == 2 and leaf["phrases"] is not None


def test_an_unknown_topic_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/topics/99.9")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= {"type", "title", "status", "detail"}
    assert problem["status"] == 404 and "'99.9'" in problem["detail"]


def test_model_card(client: TestClient, run_dir: Path) -> None:
    card = client.get("/v1/model").json()
    assert card["name"] == run_dir.name
    assert card["version"] is None and card["approval_status"] is None
    assert card["mapping_version"] == 2 and card["n_layers"] == 2
    assert card["embedder"] == "tfidf-svd"
    assert card["text_fields"][:2] == ["opportunity_name", "details"]
    assert card["topicstrata_version"] and card["fitted_at"] and card["loaded_at"]


def test_unknown_routes_and_methods_are_problems_not_html(client: TestClient) -> None:
    for response, status in (
        (client.get("/nope"), 404),
        (client.get("/v1/predict"), 405),
        (
            client.post(
                "/v1/predict", content=b"{not json", headers={"content-type": "application/json"}
            ),
            422,
        ),
    ):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == status


def test_an_unexpected_failure_is_a_500_problem_without_traceback(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(run_dir)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.holder.wait_ready(60)

        def boom(self: TopicPredictor, *args: object, **kwargs: object) -> None:
            raise ZeroDivisionError("secret internals")

        monkeypatch.setattr(TopicPredictor, "predict", boom)
        record = dict.fromkeys(app.state.holder.current.text_fields, "cloud")
        response = client.post("/v1/predict", json={"records": [record]})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_ready_only_after_the_warm_up_prediction(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import topicstrata.serve.holder as holder_module

    release = threading.Event()
    warmed: list[str] = []
    real = holder_module.warm_up

    def slow_warm_up(model: object) -> None:
        release.wait(30)
        real(model)  # type: ignore[arg-type]
        warmed.append("done")

    monkeypatch.setattr(holder_module, "warm_up", slow_warm_up)
    app = create_app(run_dir)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        waiting = client.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.json()["ready"] is False
        release.set()
        assert app.state.holder.wait_ready(30)
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
    assert warmed == ["done"]


def test_a_failed_warm_up_keeps_the_service_not_ready_and_says_why(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: TopicPredictor, records: object, **_: object) -> None:
        raise RuntimeError("embedder session could not start")

    monkeypatch.setattr(TopicPredictor, "predict", broken)
    app = create_app(run_dir)
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while app.state.holder.warm_up_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not app.state.holder.wait_ready(0.5)
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["ready"] is False
        assert body["detail"] == "RuntimeError: embedder session could not start"
        assert client.get("/healthz").json() == {"status": "ok"}  # alive, just not ready


def test_metrics_count_requests_latency_records_and_model(
    run_dir: Path, records: pd.DataFrame
) -> None:
    app = create_app(run_dir)
    with TestClient(app) as client:
        app.state.holder.wait_ready(60)
        assert (
            client.post("/v1/predict", json={"records": as_payload(records.head(7))}).status_code
            == 200
        )
        assert (
            client.post("/v1/predict", json={"records": as_payload(records.head(3))}).status_code
            == 200
        )
        assert client.post("/v1/predict", json={"records": [{"id": 1}]}).status_code == 422
        client.get("/v1/topics/1")
        client.get("/v1/topics/2")
        client.get("/no/such/route")
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    route = {"route": "/v1/predict", "method": "POST"}
    assert value("strata_requests_total", **route, status="200") == 2
    assert value("strata_requests_total", **route, status="422") == 1
    assert (
        value("strata_requests_total", route="/v1/topics/{path}", method="GET", status="200") == 2
    )
    assert value("strata_requests_total", route="unmatched", method="GET", status="404") == 1
    assert value("strata_request_duration_seconds_count", **route) == 3
    assert value("strata_request_duration_seconds_bucket", **route, le="+Inf") == 3
    assert value("strata_records_predicted_total", model=run_dir.name, version="") == 10
    assert value("strata_model_info", model=run_dir.name, version="", mapping_version="2") == 1
