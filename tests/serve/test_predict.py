"""POST /v1/predict: records in, the same assignments as `strata predict` out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from _support.serve import as_payload, text_fields
from topicstrata.ensemble.predictor import TopicPredictor
from topicstrata.run.predict import predict_file


def _post(client: TestClient, records: list[dict[str, object]]) -> dict:
    response = client.post("/v1/predict", json={"records": records})
    assert response.status_code == 200, response.text
    return response.json()


def test_predictions_equal_strata_predict(
    client: TestClient, records: pd.DataFrame, tmp_path: Path, run_dir: Path
) -> None:
    frame = records.copy()
    # Padding, empty and missing fields: ingest strips and skips them, so must the service.
    frame.loc[0, "details"] = "   " + str(frame.loc[0, "details"]) + "  \n"
    frame.loc[1, "customer_needs"] = ""
    frame.loc[2, "product_specifics"] = None
    frame.to_csv(tmp_path / "new.csv", index=False)
    predict_file(run_dir, tmp_path / "new.csv", tmp_path / "out.parquet")
    batch = pd.read_parquet(tmp_path / "out.parquet")

    body = _post(client, as_payload(frame))
    got = body["predictions"]
    assert len(got) == len(batch) == len(frame)
    levels = sorted(c for c in batch.columns if c.startswith("path_l"))
    assert len(levels) == 2
    for pred, (_, want) in zip(got, batch.iterrows(), strict=True):
        assert pred["id"] == want["id"]
        assert pred["path"] == want["path"]
        assert pred["levels"] == [want[c] for c in levels]
        assert pred["label"] == want["label"]
        assert ", ".join(pred["keywords"]) == want["keywords"]
        assert pred["confidence"] == pytest.approx(float(want["confidence"]), rel=1e-6)
        assert (pred["rule_applied"] or "") == want["rule_applied"]
    assert len({p["path"] for p in got}) > 2  # the records do not all land in one topic
    assert body["model"] == {"name": run_dir.name, "version": None}


def test_records_are_embedded_and_routed_as_one_batch(
    client: TestClient, records: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    predictor = client.app.state.holder.current.predictor  # type: ignore[attr-defined]
    calls: list[int] = []
    real = TopicPredictor.predict

    def spy(self: TopicPredictor, frame: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
        calls.append(len(frame))
        return real(self, frame, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(predictor, "predict", spy.__get__(predictor))
    _post(client, as_payload(records))
    assert calls == [len(records)]


def test_unknown_fields_are_ignored(client: TestClient, records: pd.DataFrame) -> None:
    plain = records[["id", *text_fields()]].head(5)
    extra = plain.assign(colour="blue", amount=12.5, notes=None, flag=True)
    assert _post(client, as_payload(plain)) == _post(client, as_payload(extra))


def test_missing_text_fields_are_named(client: TestClient, records: pd.DataFrame) -> None:
    payload = as_payload(records.head(3))
    del payload[1]["details"]
    del payload[2]["details"]
    del payload[2]["product_group"]
    response = client.post("/v1/predict", json={"records": payload})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:topicstrata:problem:missing-text-fields"
    assert problem["missing_fields"] == ["details", "product_group"]
    assert "details, product_group" in problem["detail"]
    assert "records[1], records[2]" in problem["detail"]
    assert problem["detail"].startswith("2 records lack the text field(s)")
    one = client.post("/v1/predict", json={"records": payload[1:2]}).json()
    assert one["detail"].startswith("1 record lacks the text field(s)")


def test_ids_default_to_positions_and_numbers_become_text(client: TestClient) -> None:
    base = {f: "cloud data warehouse migration" for f in text_fields()}
    got = _post(client, [{**base, "id": 42}, {**base}, {**base, "id": 7.0}])["predictions"]
    assert [p["id"] for p in got] == ["42", "row-2", "7"]


def test_a_record_with_only_empty_text_is_refused(client: TestClient) -> None:
    empty = dict.fromkeys(text_fields(), "  ")
    full = {f: "chatbot for the help center" for f in text_fields()}
    response = client.post("/v1/predict", json={"records": [full, {**empty, "details": None}]})
    assert response.status_code == 422
    assert response.json()["type"].endswith("empty-text")
    assert "records[1]" in response.json()["detail"]
    assert response.json()["detail"].startswith("1 record has every text field empty")


def test_an_empty_batch_predicts_nothing(client: TestClient) -> None:
    assert _post(client, [])["predictions"] == []


def test_nested_values_are_a_schema_error(client: TestClient) -> None:
    record = {f: "x" for f in text_fields()} | {"details": {"nested": 1}}
    response = client.post("/v1/predict", json={"records": [record]})
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("invalid-request")
    assert any(e["loc"][:3] == ["body", "records", 0] for e in problem["errors"])


def test_concurrent_requests_predict_one_at_a_time(
    client: TestClient, records: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each prediction already uses every core; parallel ones only multiplied memory (3.6 GB
    at 32 concurrent batches, bench/serve.py). The app runs one at a time per process."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    predictor = client.app.state.holder.current.predictor  # type: ignore[attr-defined]
    real = TopicPredictor.predict
    guard = threading.Lock()
    inside = [0]
    most = [0]

    def spy(self: TopicPredictor, frame: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.05)  # long enough for the other requests to arrive meanwhile
            return real(self, frame, **kwargs)  # type: ignore[arg-type]
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(predictor, "predict", spy.__get__(predictor))
    payload = as_payload(records.head(4))
    with ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(lambda _: _post(client, payload), range(6)))
    assert [len(b["predictions"]) for b in bodies] == [4] * 6
    assert most[0] == 1
