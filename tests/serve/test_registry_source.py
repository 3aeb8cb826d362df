"""SOURCE as a registry reference: the approval gate, aliases, and reloads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from _support.serve import as_payload
from topicstrata.errors import ConfigError, ModelError
from topicstrata.registry import approve, register_model, reject, set_alias
from topicstrata.serve import ServeSettings, create_app
from topicstrata.serve.source import ServedModel, parse_source

NAME = "serve-crm"


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("serve-registry")
    return f"sqlite:///{root / '.strata' / 'mlflow.db'}"


@pytest.fixture(scope="module")
def settings(tracking_uri: str) -> ServeSettings:
    return ServeSettings(tracking_uri=tracking_uri)


@pytest.fixture(scope="module")
def first_version(run_dir: Path, tracking_uri: str) -> int:
    """Version 1, pending: what a fresh registration looks like."""
    return register_model(run_dir, NAME, tracking_uri=tracking_uri).version


def test_parse_source(run_dir: Path, tmp_path: Path) -> None:
    assert parse_source(run_dir).path == run_dir
    assert parse_source(run_dir / "model").path == run_dir / "model"
    for text, alias, version in (
        ("crm-topics", None, None),
        ("crm-topics@champion", "champion", None),
        ("crm-topics/3", None, 3),
        ("models:/crm.topics_v2/12", None, 12),
    ):
        source = parse_source(text)
        assert source.is_registry and source.path is None
        assert (source.name, source.alias, source.version) == (
            text.removeprefix("models:/").split("@")[0].split("/")[0],
            alias,
            version,
        )
    with pytest.raises(ConfigError, match="neither a run directory"):
        parse_source(tmp_path)
    with pytest.raises(ConfigError, match="NAME@ALIAS"):
        parse_source("no/such/dir/here")
    with pytest.raises(ConfigError, match="empty"):
        parse_source("  ")


def test_an_unapproved_version_is_refused_with_how_to_approve(
    first_version: int, settings: ServeSettings
) -> None:
    for source in (f"{NAME}/{first_version}", NAME):
        with pytest.raises(ModelError) as caught:
            create_app(source, settings)
        message = str(caught.value)
        if source == NAME:  # no champion and nothing approved
            assert f"strata registry approve {NAME} VERSION" in message
        else:
            assert "is pending" in message
            assert f"strata registry approve {NAME} {first_version}" in message
            assert "--allow-unapproved" in message


def test_allow_unapproved_serves_it_and_warns_loudly(
    first_version: int,
    settings: ServeSettings,
    records: pd.DataFrame,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="topicstrata")
    loose = ServeSettings(tracking_uri=settings.tracking_uri, allow_unapproved=True)
    app = create_app(f"{NAME}/{first_version}", loose)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("UNAPPROVED" in r.getMessage() and NAME in r.getMessage() for r in warnings)
    with TestClient(app) as client:
        card = client.get("/v1/model").json()
        assert (card["version"], card["approval_status"]) == (first_version, "pending")
        response = client.post("/v1/predict", json={"records": as_payload(records.head(4))})
        assert response.status_code == 200


def test_a_rejected_version_is_refused_with_its_reason(
    run_dir: Path, tracking_uri: str, settings: ServeSettings
) -> None:
    version = register_model(run_dir, NAME, tracking_uri=tracking_uri).version
    reject(NAME, version, "keywords leak customer names", tracking_uri=tracking_uri)
    with pytest.raises(ModelError, match="rejected \\(keywords leak customer names\\)"):
        create_app(f"{NAME}/{version}", settings)


@pytest.fixture(scope="module")
def champion(
    run_dir: Path, tracking_uri: str, settings: ServeSettings, first_version: int
) -> Iterator[TestClient]:
    approve(NAME, first_version, alias="champion", tracking_uri=tracking_uri)
    app = create_app(f"{NAME}@champion", settings)
    with TestClient(app) as client:
        assert app.state.holder.wait_ready(60)
        yield client


def test_an_approved_alias_is_served_and_predicts_like_the_run(
    champion: TestClient, run_dir: Path, records: pd.DataFrame, first_version: int
) -> None:
    card = champion.get("/v1/model").json()
    assert card["name"] == NAME and card["version"] == first_version
    assert card["alias"] == "champion" and "champion" in card["aliases"]
    assert card["approval_status"] == "approved"
    assert card["registered_at"] and card["topicstrata_version"]
    payload = {"records": as_payload(records)}
    with TestClient(create_app(run_dir)) as direct:
        want = direct.post("/v1/predict", json=payload).json()["predictions"]
    assert champion.post("/v1/predict", json=payload).json()["predictions"] == want


def _version(client: TestClient) -> int:
    return int(client.get("/v1/model").json()["version"])


def test_reload_swaps_in_what_the_alias_points_at_and_keeps_serving_meanwhile(
    champion: TestClient, run_dir: Path, tracking_uri: str, records: pd.DataFrame
) -> None:
    holder = champion.app.state.holder  # type: ignore[attr-defined]
    before = _version(champion)
    new = register_model(run_dir, NAME, tracking_uri=tracking_uri).version
    approve(NAME, new, alias="champion", tracking_uri=tracking_uri)

    loading, release = threading.Event(), threading.Event()
    real_load = holder.load

    def slow_load() -> ServedModel:
        loading.set()
        assert release.wait(60)
        return real_load()

    holder.load = slow_load
    try:
        started = champion.post("/v1/admin/reload")
        assert started.status_code == 202 and started.json()["state"] == "loading"
        assert loading.wait(30)
        # While the new version loads, the old one answers every request.
        assert champion.post("/v1/admin/reload").json()["state"] == "loading"  # not a second load
        assert _version(champion) == before
        response = champion.post("/v1/predict", json={"records": as_payload(records.head(3))})
        assert response.status_code == 200 and response.json()["model"]["version"] == before
        release.set()
        status = holder.wait_reload(60)
    finally:
        release.set()
        holder.load = real_load
    assert status.state == "succeeded" and status.error is None
    assert _version(champion) == new
    metrics = champion.get("/metrics").text
    assert f'strata_model_info{{mapping_version="2",model="{NAME}",version="{new}"}} 1.0' in metrics
    assert f'version="{before}"}} 1.0' not in metrics.split("strata_model_info")[-1]


def test_a_broken_new_version_is_not_swapped_in(
    champion: TestClient, run_dir: Path, tracking_uri: str
) -> None:
    served = _version(champion)
    broken = register_model(run_dir, NAME, tracking_uri=tracking_uri)
    approve(NAME, broken.version, alias="champion", tracking_uri=tracking_uri)
    root = Path(broken.source.removeprefix("file://"))
    ensemble_json = next(root.rglob("ensemble.json"))
    ensemble_json.write_text(ensemble_json.read_text() + " ", encoding="utf-8")

    response = champion.post("/v1/admin/reload?wait=true")
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "urn:topicstrata:problem:reload-failed"
    assert "does not match its sha256" in problem["detail"]
    assert f"{NAME} version {served} is still served" in problem["detail"]
    assert _version(champion) == served
    status = champion.get("/v1/admin/reload").json()
    assert status["state"] == "failed" and "sha256" in status["error"]
    assert champion.get("/readyz").status_code == 200

    # Pointing the alias back and reloading recovers.
    set_alias(NAME, served, "champion", tracking_uri=tracking_uri)
    again = champion.post("/v1/admin/reload?wait=true")
    assert again.status_code == 200 and again.json()["state"] == "succeeded"
