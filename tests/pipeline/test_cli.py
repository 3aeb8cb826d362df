"""The ``strata pipeline`` sub-app, driven through typer's CliRunner."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from _support.pipeline_steps import calls
from topicstrata.cli.pipeline import app
from topicstrata.pipeline import list_runs

FACTORY = "_support.pipeline_steps:build_pipeline"


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [*args], catch_exceptions=False)

    return invoke


def test_run_waits_then_resume_with_mapping_file(cli, tmp_path):
    counter = str(tmp_path / "calls")
    root = str(tmp_path)
    result = cli("run", FACTORY, "--root", root, "-p", f"counter={counter}", "-p", "n=3")
    assert result.exit_code == 0, result.output
    assert "waiting" in result.output and "Check the metrics" in result.output
    run_id = list_runs(tmp_path)[0].run_id

    status = cli("status", run_id, "--root", root)
    assert status.exit_code == 0 and "waiting" in status.output

    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("label: billing\n", encoding="utf-8")
    resumed = cli("resume", run_id[:15], "--root", root, "--mapping", str(mapping))
    assert resumed.exit_code == 0, resumed.output
    assert "succeeded" in resumed.output
    assert calls(counter, "apply") == 1 and calls(counter, "make") == 1

    listing = cli("list", "--root", root)
    assert run_id in listing.output and "succeeded" in listing.output

    described = cli("describe", run_id, "--root", root)
    assert described.exit_code == 0
    for step in ("make", "train", "evaluate", "review", "apply", "gate", "register", "stop"):
        assert step in described.output
    assert "lineage" in described.output
    as_json = cli("describe", run_id, "--root", root, "--json")
    assert '"status": "succeeded"' in as_json.output


def test_config_file_and_failed_run_exit_1_without_traceback(cli, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"counter: {tmp_path / 'calls'}\nauto_approve: true\nthreshold: 1000\n", encoding="utf-8"
    )
    result = cli("run", FACTORY, "--root", str(tmp_path), "--config", str(cfg))
    assert result.exit_code == 1
    assert "below threshold" in result.output
    assert "Traceback" not in result.output
    run_id = list_runs(tmp_path)[0].run_id
    described = cli("describe", run_id, "--root", str(tmp_path))
    assert "FailStep: total" in described.output


def test_bad_param_and_unknown_run_are_clear_errors(cli, tmp_path):
    bad = cli("run", FACTORY, "--root", str(tmp_path), "-p", "n=many")
    assert bad.exit_code == 1 and "parameter 'n' expects an integer" in bad.output
    missing = cli("status", "nope", "--root", str(tmp_path))
    assert missing.exit_code == 1 and "no run 'nope'" in missing.output
    nofactory = cli("graph", "--pipeline", "no_such_module:build")
    assert nofactory.exit_code == 1 and "cannot import 'no_such_module'" in nofactory.output


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph(cli, fmt):
    result = cli("graph", "--pipeline", FACTORY, "--format", fmt)
    assert result.exit_code == 0
    for step in ("make", "train", "evaluate", "review", "apply", "gate", "register", "stop"):
        assert re.search(rf"\b{step}\b", result.output)
    assert result.output.startswith("flowchart TD" if fmt == "mermaid" else 'digraph "demo"')
