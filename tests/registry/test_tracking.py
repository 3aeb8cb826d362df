"""Tracking-URI resolution and the pure helpers (no MLflow store needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from topicstrata.registry import (
    default_tracking_uri,
    flatten_params,
    metrics_from_file,
    resolve_tracking_uri,
)
from topicstrata.registry.tracking import sqlite_path


def test_default_is_sqlite_under_dot_strata(tmp_path: Path) -> None:
    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/.strata/mlflow.db"
    assert sqlite_path(uri) == tmp_path.resolve() / ".strata" / "mlflow.db"
    assert sqlite_path("http://mlflow.internal:5000") is None
    assert sqlite_path("sqlite:///rel/m.db") == Path("rel/m.db").resolve()


def test_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TOPICSTRATA_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri() == default_tracking_uri(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert resolve_tracking_uri() == "http://mlflow:5000"
    monkeypatch.setenv("TOPICSTRATA_TRACKING_URI", "sqlite:////x/y.db")
    assert resolve_tracking_uri() == "sqlite:////x/y.db"
    assert resolve_tracking_uri("file:///z") == "file:///z"


def test_flatten_params() -> None:
    flat = flatten_params(
        {"embed": {"backend": "minilm", "opts": {"batch": 32}}, "k": [4, 6], "empty": {}, "x": None}
    )
    assert flat == {
        "embed.backend": "minilm",
        "embed.opts.batch": "32",
        "k": "[4, 6]",
        "empty": "{}",
        "x": "None",
    }
    assert len(flatten_params({"long": "a" * 10_000})["long"]) == 6000


def test_metrics_from_file() -> None:
    metrics = {
        "levels": [
            {"level": 1, "label_col": "true_l1", "nmi": 0.5, "ari": 0.25, "n_topics": 6},
            {"level": 2, "label_col": "true_l2", "nmi": 0.4, "ari": None, "n_topics": 18},
        ],
        "npmi": 0.3,
        "diversity": 0.8,
        "keyword_levels": [
            {"level": 1, "n_topics": 6, "n_scored": 6, "npmi": 0.1, "diversity": 0.9},
            {"level": 2, "n_topics": 18, "n_scored": 17, "npmi": None, "diversity": 0.7},
        ],
        "n_docs": 600,
        "flag": True,
        "coherence": float("nan"),
        "timings": {"fit": 4.5},
        "rows": {"source": "x.parquet", "ok": 600},
    }
    assert metrics_from_file(metrics) == {
        "l1_nmi": 0.5,
        "l1_ari": 0.25,
        "l1_n_topics": 6.0,
        "l2_nmi": 0.4,
        "l2_n_topics": 18.0,
        "l1_keywords_n_topics": 6.0,
        "l1_keywords_n_scored": 6.0,
        "l1_keywords_npmi": 0.1,
        "l1_keywords_diversity": 0.9,
        "l2_keywords_n_topics": 18.0,
        "l2_keywords_n_scored": 17.0,
        "l2_keywords_diversity": 0.7,
        "npmi": 0.3,
        "diversity": 0.8,
        "n_docs": 600.0,
        "timings.fit": 4.5,
        "rows.ok": 600.0,
    }
