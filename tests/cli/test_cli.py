"""The `strata` command line: fit, predict, evaluate, synth and friendly errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from _support.runs import CHEAP_CONFIG, write_dirty_opportunities
from topicstrata.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    write_dirty_opportunities(root / "opps.csv", rows=500)
    (root / "cfg.yaml").write_text(yaml.safe_dump(CHEAP_CONFIG))
    result = runner.invoke(
        app,
        [
            "fit",
            str(root / "opps.csv"),
            "-o",
            str(root / "run"),
            "--config",
            str(root / "cfg.yaml"),
            "--cache-dir",
            str(root / "cache"),
            "--root",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rows in" in result.output and "rejected" in result.output
    return root


def test_every_command_has_help():
    for cmd in ["synth", "fit", "predict", "evaluate", "demo"]:
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_predict_writes_one_row_per_valid_record(run_dir):
    out = run_dir / "pred.parquet"
    result = runner.invoke(
        app,
        [
            "predict",
            str(run_dir / "run"),
            str(run_dir / "opps.csv"),
            "-o",
            str(out),
            "--chunk-rows",
            "128",
        ],
    )
    assert result.exit_code == 0, result.output
    pred = pd.read_parquet(out)
    fitted = pd.read_parquet(run_dir / "run" / "assignments.parquet")
    assert len(pred) == len(fitted)
    merged = fitted.merge(pred, on="id", suffixes=("_fit", "_pred"))
    assert (merged["path_fit"] == merged["path_pred"]).mean() > 0.99
    assert {"label", "keywords", "confidence"} <= set(pred.columns)


def test_evaluate_json_contract(run_dir):
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(run_dir / "run"),
            "--data",
            str(run_dir / "opps.csv"),
            "--labels",
            "true_l1,true_l2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) >= {"levels", "npmi", "diversity", "n_docs"}
    assert [lv["level"] for lv in payload["levels"]] == [1, 2]
    assert set(payload["levels"][0]) == {"level", "label_col", "nmi", "ari", "n_topics"}
    assert payload["n_docs"] == 500
    assert -1 <= payload["stability"] <= 1
    assert 0 <= payload["outlier_share"] <= 1
    keywords = payload["keyword_levels"]
    assert [kw["level"] for kw in keywords] == list(range(1, len(keywords) + 1))
    assert keywords[0]["n_topics"] == payload["levels"][0]["n_topics"]
    for kw in keywords:
        assert 0 < kw["diversity"] <= 1 and -1 <= kw["npmi"] <= 1
        assert kw["n_scored"] == kw["n_topics"]  # every topic of the tree has keywords


def test_synth_writes_requested_rows(tmp_path):
    result = runner.invoke(
        app, ["synth", "--rows", "123", "--seed", "4", "-o", str(tmp_path / "s.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 123


def test_user_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Title,Body\nhello,world\n")
    result = runner.invoke(
        app,
        [
            "fit",
            str(bad),
            "-o",
            str(tmp_path / "run"),
            "--text-cols",
            "Titel",
            "--root",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "Titel" in result.output and "Title" in result.output


def test_missing_input_file(tmp_path):
    result = runner.invoke(app, ["fit", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "nope.csv" in result.output and "Traceback" not in result.output


def test_bad_config_names_the_field(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("ensemble:\n  layers:\n    - {k_range: [9, 3]}\n")
    (tmp_path / "d.csv").write_text("id,details\n1,hello\n")
    result = runner.invoke(
        app,
        [
            "fit",
            str(tmp_path / "d.csv"),
            "-o",
            str(tmp_path / "r"),
            "--config",
            str(cfg),
            "--root",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "k_range" in result.output and "Traceback" not in result.output


def test_demo_ends_with_the_studio_command_that_opens_its_run(tmp_path):
    from fastapi.testclient import TestClient

    from topicstrata.pipeline import list_runs
    from topicstrata.studio import create_app

    root = tmp_path / "root"
    out, cache = str(tmp_path / "out"), str(tmp_path / "cache")
    args = ["demo", "--rows", "100", "-o", out, "--root", str(root), "--cache-dir", cache]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"strata studio --root {root}" in " ".join(result.output.split())
    # The printed command's root is where the demo's run is recorded: the studio lists it.
    run_id = list_runs(root, limit=1)[0].run_id
    with TestClient(create_app(root)) as client:
        page = client.get("/runs")
    assert page.status_code == 200 and run_id in page.text
