"""Issue 15: ``strata fit --executor ray`` runs the unchanged default pipeline on a local
Ray (started by the command, ``num_cpus`` = this machine's CPUs): steps as Ray tasks, the
embedding through a Ray Data actor pool, layer 2's per-topic fits as Ray tasks; it gives
byte-identical
``assignments.parquet`` and ``topics.parquet`` to the local executor for the same data,
config and seed; the cache is shared both ways (a local run reuses what a Ray run stored,
and the other way round), because cache keys do not depend on the executor.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _support.faults import _fit_cmd, run_logged, strata_env, write_config
from _support.fits import fit, parallel_fit_inputs, results
from _support.runs import write_dirty_opportunities
from topicstrata.pipeline import run_status

pytest.importorskip("ray", reason="the Ray executor needs `pip install 'topicstrata[ray]'`")

#: Steps whose work a cache hit saves (the others are cheap, or never cached).
CACHED_WORK = ("ingest", "preprocess", "embed", "layer_1", "layer_2")


def _fit(data: Path, config: Path, root: Path, *extra: str) -> str:
    """``strata fit --jobs 2 EXTRA...`` in ``root``; returns the run id."""
    return fit(data, config, root, "--jobs", "2", *extra)


def _computed(root: Path, run_id: str) -> list[str]:
    steps = run_status(root, run_id).steps
    return sorted(name for name in CACHED_WORK if not steps[name].cache_hit)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return parallel_fit_inputs(tmp_path_factory.mktemp("ray-fit"))


def test_fit_on_ray_equals_local_and_the_cache_is_shared_both_ways(setup):
    data, config, base = setup
    local, on_ray = base / "local", base / "ray"
    _fit(data, config, local)
    ray_run = _fit(data, config, on_ray, "--executor", "ray")
    steps = run_status(on_ray, ray_run).steps
    assert "computed in 2 Ray tasks at once" in (steps["layer_2"].log or "")
    assert "through a Ray Data actor pool" in (steps["embed"].log or "")
    assert results(on_ray) == results(local)

    # A local run over the Ray run's store computes nothing, and the other way round.
    (on_ray / "run" / "assignments.parquet").unlink()
    assert _computed(on_ray, _fit(data, config, on_ray)) == []
    assert results(on_ray) == results(local)
    (local / "run" / "assignments.parquet").unlink()
    assert _computed(local, _fit(data, config, local, "--executor", "ray")) == []
    assert results(local) == results(on_ray)


def test_address_without_the_ray_executor_is_refused(tmp_path):
    data = tmp_path / "data.csv"
    write_dirty_opportunities(data, rows=20)
    cmd = [*_fit_cmd(data, tmp_path, write_config(tmp_path / "c.yaml")), "--address", "auto"]
    done = run_logged(cmd, strata_env(), tmp_path / "log", new_session=False)
    text = (tmp_path / "log").read_text()
    assert done.returncode != 0
    assert "--address auto names a Ray cluster" in text and "--executor ray" in text
    assert "Traceback" not in text
