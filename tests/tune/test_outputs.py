"""``strata tune`` end to end: outputs, MLflow, and best.yaml back into ``strata fit``."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from topicstrata import run_fit
from topicstrata.cli.tune import tune_command
from topicstrata.config import StrataConfig
from topicstrata.synth import make_opportunities
from tune._data import BASE, SPACE

app = typer.Typer()
app.command("tune")(tune_command)
app.command("noop")(lambda: None)  # two commands, so `tune` stays a sub-command


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    make_opportunities(300, seed=0).to_csv(root / "opps.csv", index=False)
    config = {**BASE, "tune": {"space": SPACE, "weights": {"diversity": 0.25}}}
    (root / "base.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    tracking = f"sqlite:///{root}/mlflow.db"
    args = [
        "tune", str(root / "opps.csv"), "-o", str(root / "out"),
        "--config", str(root / "base.yaml"), "--labels", "true_l1,true_l2",
        "--trials", "2", "--folds", "2", "--sample", "250", "--sampler", "random",
        "--storage", f"sqlite:///{root}/optuna.db", "--cache-dir", str(root / "cache"),
        "--tracking-uri", tracking,
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return root, tracking, result.output


def test_writes_every_output(tuned):
    root, _, output = tuned
    out = root / "out"
    names = {p.name for p in out.iterdir()}
    assert {
        "best.yaml",
        "trials.csv",
        "embedders.json",
        "metrics.json",
        "study.json",
        "history.html",
        "history.png",
    } <= names
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and "value" in trials.columns
    html = (out / "history.html").read_text(encoding="utf-8")
    # plotly.js is inlined (its source mentions cdn.plot.ly for topojson; no script loads it).
    assert re.search(r"<script[^>]*\ssrc=", html) is None and len(html) > 1_000_000
    assert (out / "history.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_trials"] == 2 and "best.labels" in metrics
    settings = json.loads((out / "study.json").read_text())["settings"]
    assert settings["weights"]["diversity"] == 0.25 and settings["sample"] == 250
    assert "best loss" in output


def test_best_config_round_trips_into_fit(tuned, tmp_path):
    root, _, _ = tuned
    text = (root / "out" / "best.yaml").read_text(encoding="utf-8")
    assert "tune" not in yaml.safe_load(text)
    best = StrataConfig.from_yaml(root / "out" / "best.yaml")
    trial = json.loads((root / "out" / "study.json").read_text())["best_params"]
    layer = best.ensemble.layers[0]
    assert layer.k_range[0] == trial["l1.k_low"]
    assert layer.k_range[1] == trial["l1.k_low"] + trial["l1.k_span"]
    assert layer.n_components == trial["l1.n_components"]
    assert best.ensemble.representation.min_df == trial["repr.min_df"]
    fit = run_fit(root / "opps.csv", tmp_path / "run", best, cache_dir=root / "cache")
    assert fit.ensemble.config_ == best.ensemble
    assert (tmp_path / "run" / "assignments.parquet").is_file()


def test_study_is_logged_to_mlflow(tuned):
    from mlflow.tracking import MlflowClient

    _, tracking, _ = tuned
    client = MlflowClient(tracking_uri=tracking)
    experiment = client.get_experiment_by_name("topicstrata")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["topicstrata.kind"] == "tune"
    assert "best_loss" in run.data.metrics
    assert run.data.params["embedder_winner"] == "tfidf-svd"
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"best.yaml", "trials.csv", "history.html", "metrics.json"} <= logged


def test_bad_sampler_is_a_friendly_error(tmp_path):
    result = CliRunner().invoke(
        app, ["tune", str(tmp_path / "x.csv"), "-o", str(tmp_path / "o"), "--sampler", "grid"]
    )
    assert result.exit_code == 1 and "tpe, gp, random" in result.output
