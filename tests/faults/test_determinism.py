"""Issue 13, determinism: the same data, config and seed give byte-identical
``assignments.parquet`` and ``topics.parquet``: across two runs, across ``--jobs 1`` and
``--jobs 2`` (per-topic fits and preprocessing in this process or in two workers), and
with cold versus warm caches (a fresh ``.strata/`` over a warm text cache, and a second
run that takes every step from the cache).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _support.fits import fit, parallel_fit_inputs, results
from topicstrata.pipeline import run_status


def _step_log(root: Path, run_id: str, step: str) -> str:
    return run_status(root, run_id).steps[step].log or ""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return parallel_fit_inputs(tmp_path_factory.mktemp("determinism"))


def test_jobs_1_and_jobs_2_give_byte_identical_results(setup):
    data, config, base = setup
    one = fit(data, config, base / "jobs1", "--jobs", "1")
    two = fit(data, config, base / "jobs2", "--jobs", "2")
    assert "computed in this process" in _step_log(base / "jobs1", one, "layer_2")
    assert "computed in 2 worker processes" in _step_log(base / "jobs2", two, "layer_2")
    assert results(base / "jobs1") == results(base / "jobs2")


def test_cold_and_warm_caches_give_byte_identical_results(setup):
    data, config, base = setup
    cold = base / "cold"
    fit(data, config, cold, "--jobs", "1")
    reference = results(cold)
    # A fresh run store over the warm text cache (preprocessing and embeddings reused).
    warm_text = base / "warm-text"
    fit(data, config, warm_text, "--jobs", "1", cache=cold / "cache")
    assert results(warm_text) == reference
    # The same root again: every step from the cache, the run directory rewritten.
    (cold / "run" / "assignments.parquet").unlink()
    again = fit(data, config, cold, "--jobs", "1")
    steps = run_status(cold, again).steps
    computed = sorted(name for name, step in steps.items() if not step.cache_hit)
    assert "layer_1" not in computed and "embed" not in computed, computed
    assert results(cold) == reference
