"""Logging runs, registering pyfunc versions, and the approval gate, on a real small model."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from topicstrata.ensemble.predictor import TopicPredictor
from topicstrata.errors import ConfigError, ModelError
from topicstrata.registry import (
    APPROVAL_TAG,
    approve,
    get_version,
    list_models,
    load_approved,
    log_run,
    predictor_of,
    register_model,
    reject,
    resolve_version,
)


def test_log_run_records_params_metrics_and_artefacts(run_dir: Path, tracking_uri: str) -> None:
    params = {"embed": {"backend": "tfidf-svd"}, "layers": [6, 3], "seed": 0}
    run_id = log_run(run_dir, params, {"custom_score": 0.5}, tracking_uri=tracking_uri)

    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"embed.backend": "tfidf-svd", "layers": "[6, 3]", "seed": "0"}
    metrics = run.data.metrics
    assert {"l1_nmi", "l1_ari", "l2_nmi", "npmi", "diversity", "n_docs"} <= set(metrics)
    assert metrics["n_docs"] == 600
    assert metrics["custom_score"] == 0.5
    artefacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"metrics.json", "report.html", "mapping.v1.yaml"} <= artefacts
    assert not any(a.endswith(".parquet") for a in artefacts)
    experiment = client.get_experiment(run.info.experiment_id)
    db_dir = Path(tracking_uri.removeprefix("sqlite:///")).parent
    assert experiment.artifact_location.startswith((db_dir / "mlruns").as_uri())


def test_log_run_refuses_a_missing_directory(tmp_path: Path, tracking_uri: str) -> None:
    with pytest.raises(ConfigError, match="strata fit"):
        log_run(tmp_path / "nope", tracking_uri=tracking_uri)


def test_pyfunc_predicts_like_the_predictor(
    run_dir: Path,
    records: pd.DataFrame,
    tracking_uri: str,
    model_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    info = register_model(run_dir, model_name, tracking_uri=tracking_uri)
    assert (info.version, info.approval_status) == (1, "pending")
    assert info.uri == f"models:/{model_name}/1"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(info.uri)
    predictor = TopicPredictor.load(run_dir / "model")
    texts = ["migrate the data warehouse to the cloud", "chatbot for phone support"]
    # Raw records with the fitted text columns, a plain text column, and no rows at all.
    for frame in (records, pd.DataFrame({"text": texts}), pd.DataFrame({"text": []})):
        got = pyfunc.predict(frame)
        want = predictor.predict(frame)
        assert len(got) == len(frame)
        assert got["path"].tolist() == want["path"].tolist()
        assert got["label"].tolist() == want["label"].tolist()
    assert pyfunc.predict(records)["path"].nunique() > 1


def test_versions_increment_and_list_shows_everything(
    run_dir: Path, tracking_uri: str, model_name: str
) -> None:
    first = register_model(run_dir, model_name, tracking_uri=tracking_uri, description="first")
    second = register_model(
        run_dir / "model", model_name, alias="candidate", tracking_uri=tracking_uri
    )
    assert (first.version, second.version) == (1, 2)
    assert first.run_id != second.run_id

    listed = [i for i in list_models(tracking_uri=tracking_uri) if i.name == model_name]
    assert [i.version for i in listed] == [1, 2]
    assert listed == list_models(model_name, tracking_uri=tracking_uri)
    assert [i.aliases for i in listed] == [(), ("candidate",)]
    assert {i.approval_status for i in listed} == {"pending"}
    assert listed[0].description == "first"
    assert all(i.created_at is not None and i.run_id for i in listed)
    assert listed[1].metrics["n_docs"] == 600 and "l1_nmi" in listed[1].metrics
    assert resolve_version(model_name, "candidate", tracking_uri=tracking_uri).version == 2


def test_approval_gates_loading(
    run_dir: Path, records: pd.DataFrame, tracking_uri: str, model_name: str
) -> None:
    register_model(run_dir, model_name, tracking_uri=tracking_uri)

    with pytest.raises(ModelError, match=f"is pending.*strata registry approve {model_name} 1"):
        load_approved(model_name, 1, tracking_uri=tracking_uri)

    rejected = reject(model_name, 1, "labels too vague", tracking_uri=tracking_uri)
    assert rejected.approval_status == "rejected"
    assert rejected.tags["rejection_reason"] == "labels too vague"
    tag = MlflowClient(tracking_uri).get_model_version(model_name, "1").tags[APPROVAL_TAG]
    assert tag == "rejected"
    with pytest.raises(ModelError, match="is rejected \\(labels too vague\\)"):
        load_approved(model_name, 1, tracking_uri=tracking_uri)

    approved = approve(model_name, 1, alias="champion", tracking_uri=tracking_uri)
    assert approved.approval_status == "approved"
    assert "rejection_reason" not in approved.tags
    assert approved.aliases == ("champion",)

    for selector in (1, "1", "champion", None):
        model = load_approved(model_name, selector, tracking_uri=tracking_uri)
        got = model.predict(records)
        want = TopicPredictor.load(run_dir / "model").predict(records)
        assert got["path"].tolist() == want["path"].tolist()
    assert isinstance(predictor_of(model), TopicPredictor)


def test_default_selector_is_newest_approved_without_champion(
    run_dir: Path, tracking_uri: str, model_name: str
) -> None:
    for _ in range(3):
        register_model(run_dir / "model", model_name, tracking_uri=tracking_uri)
    with pytest.raises(ModelError, match="no approved version"):
        resolve_version(model_name, tracking_uri=tracking_uri)
    approve(model_name, 1, tracking_uri=tracking_uri)
    approve(model_name, 2, tracking_uri=tracking_uri)
    assert resolve_version(model_name, tracking_uri=tracking_uri).version == 2
    assert get_version(model_name, 3, tracking_uri=tracking_uri).approval_status == "pending"


def test_clear_errors(tmp_path: Path, run_dir: Path, tracking_uri: str, model_name: str) -> None:
    with pytest.raises(ConfigError, match="neither a run directory"):
        register_model(tmp_path, model_name, tracking_uri=tracking_uri)
    with pytest.raises(ConfigError, match="non-empty name"):
        register_model(run_dir, " ", tracking_uri=tracking_uri)
    with pytest.raises(ModelError, match="has no version 7"):
        approve(model_name, 7, tracking_uri=tracking_uri)
    with pytest.raises(ModelError, match="no version or alias 'nope'"):
        load_approved(model_name, "nope", tracking_uri=tracking_uri)
