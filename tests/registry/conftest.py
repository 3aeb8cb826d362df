"""A small fitted run and a throwaway SQLite tracking store, built once per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from topicstrata import run_fit
from topicstrata.config import StrataConfig
from topicstrata.synth import write_opportunities

CHEAP = {
    "embed": {"backend": "tfidf-svd"},
    "preprocess": {"mode": "fast"},
    "ensemble": {
        "layers": [
            {"k_range": [4, 6], "reducer": "pca", "n_components": 5},
            {"k_range": [2, 3], "reducer": "pca", "n_components": 3},
        ],
        "split": {"mode": "all", "min_size": 20},
    },
}


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry-data") / "opportunities.parquet"
    write_opportunities(path, rows=600, seed=0)
    return path


@pytest.fixture(scope="session")
def run_dir(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("registry-run")
    run_fit(synth_data, base / "run", StrataConfig.from_dict(CHEAP), cache_dir=base / "cache")
    return base / "run"


@pytest.fixture(scope="session")
def records(synth_data: Path) -> pd.DataFrame:
    """Raw records with the fitted text columns (no ``text`` column)."""
    return pd.read_parquet(synth_data).head(40)


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One store for the session: creating MLflow's SQLite schema takes ~10 s."""
    root = tmp_path_factory.mktemp("registry-store")
    return f"sqlite:///{root / '.strata' / 'mlflow.db'}"


@pytest.fixture
def model_name(request: pytest.FixtureRequest) -> str:
    """A registered-model name unique to the test, so versions start at 1."""
    return f"strata-{request.node.name}".replace("[", "-").replace("]", "")
