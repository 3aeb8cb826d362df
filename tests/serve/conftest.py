"""A small fitted run directory and a throwaway registry store, built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from _support.runs import CHEAP_CONFIG
from topicstrata import run_fit
from topicstrata.config import StrataConfig
from topicstrata.serve import create_app
from topicstrata.synth import write_opportunities


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve-data") / "opportunities.parquet"
    write_opportunities(path, rows=500, seed=0)
    return path


@pytest.fixture(scope="session")
def run_dir(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("serve-run")
    config = StrataConfig.from_dict(CHEAP_CONFIG)
    run_fit(synth_data, base / "run", config, cache_dir=base / "cache")
    return base / "run"


@pytest.fixture(scope="session")
def records(synth_data: Path) -> pd.DataFrame:
    """Raw records: the fitted text columns plus metadata and truth columns."""
    return pd.read_parquet(synth_data).head(24)


@pytest.fixture(scope="module")
def client(run_dir: Path) -> Iterator[TestClient]:
    """A client of the app serving ``run_dir`` with no keys, warmed up."""
    app = create_app(run_dir)
    with TestClient(app) as test_client:
        assert app.state.holder.wait_ready(60), app.state.holder.warm_up_error
        yield test_client
