"""``strata registry`` round trip through typer's runner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from topicstrata.cli.registry import app
from topicstrata.registry import get_version

runner = CliRunner(env={"COLUMNS": "160"})


def _text(output: str) -> str:
    """Rich wraps tables and messages at 80 columns under the runner."""
    return " ".join(output.split())


def test_register_list_approve_reject(run_dir: Path, tracking_uri: str) -> None:
    model_name = "cli-m"
    uri = ["--tracking-uri", tracking_uri]
    result = runner.invoke(
        app, ["register", str(run_dir), "--name", model_name, "--alias", "candidate", *uri]
    )
    assert result.exit_code == 0, result.output
    assert "pending" in result.output and f"approve {model_name} 1" in _text(result.output)

    result = runner.invoke(app, ["list", "--name", model_name, *uri])
    assert result.exit_code == 0, result.output
    assert model_name in result.output and "candidate" in result.output

    result = runner.invoke(app, ["approve", model_name, "1", "--alias", "champion", *uri])
    assert result.exit_code == 0, result.output
    info = get_version(model_name, 1, tracking_uri=tracking_uri)
    assert info.approval_status == "approved" and "champion" in info.aliases

    result = runner.invoke(app, ["reject", model_name, "1", "--reason", "drift", *uri])
    assert result.exit_code == 0, result.output
    info = get_version(model_name, 1, tracking_uri=tracking_uri)
    assert info.approval_status == "rejected" and info.tags["rejection_reason"] == "drift"

    result = runner.invoke(app, ["list", *uri])
    assert result.exit_code == 0 and "rejected" in result.output


def test_errors_exit_1_with_a_message(tracking_uri: str, model_name: str) -> None:
    result = runner.invoke(app, ["approve", model_name, "9", "--tracking-uri", tracking_uri])
    assert result.exit_code == 1
    assert "error" in result.output and "has no version 9" in result.output
