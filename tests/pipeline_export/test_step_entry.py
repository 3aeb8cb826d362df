"""strata pipeline step: each step in a fresh process, reading only earlier output dirs."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

from topicstrata.pipeline import ArtifactStore

FACTORY = "pipeline_export.steps_toy:build"
TESTS = str(Path(__file__).resolve().parents[1])


def _step(name: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = "from topicstrata.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, "pipeline", "step", name, "--pipeline", FACTORY,
         "--output", str(out), *args],
        capture_output=True, text=True, timeout=120, env={"PYTHONPATH": TESTS, "PATH": ""},
    )  # fmt: skip


def _value(directory: Path, output: str = "output"):
    info = json.loads((directory / "step.json").read_text())
    return ArtifactStore(directory).get(info["outputs"][output])


def test_steps_run_in_order_from_directories(tmp_path):
    make, fit, score = tmp_path / "make", tmp_path / "fit", tmp_path / "score"
    done = _step("make", make, "--param", "n=4")
    assert done.returncode == 0, done.stderr
    assert _value(make) == [0, 1, 2, 3]
    # a training job's output comes back as model.tar.gz: the entry point unpacks it
    done = _step("fit", fit, "--input", str(make), "--param", "scale=3")
    assert done.returncode == 0, done.stderr
    packed = tmp_path / "fit-s3"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as tar:
        for item in fit.iterdir():
            tar.add(item, arcname=item.name)
    done = _step("score", score, "--input", str(packed))
    assert done.returncode == 0, done.stderr
    assert _value(score) == {"npmi": None, "total": 18.0}
    gate = json.loads((score / "evaluation.json").read_text())
    assert gate["npmi"] == 1.0 and gate["npmi_computed"] is False


def test_a_missing_input_is_a_clear_error(tmp_path):
    done = _step("fit", tmp_path / "fit")
    assert done.returncode != 0
    message = " ".join((done.stderr + done.stdout).split())
    assert "pass the output directory of step 'make' with --input" in message
