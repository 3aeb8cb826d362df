"""``strata fit`` as a user runs it, in a root of its own, and its results as bytes: for
the tests that compare two ways of running the same fit byte for byte (``--jobs``, cold
and warm caches, the Ray executor)."""

from __future__ import annotations

from pathlib import Path

from _support.faults import CONFIG, _fit_cmd, run_logged, strata_env, write_config
from _support.runs import write_dirty_opportunities
from topicstrata.pipeline import list_runs

RESULT_FILES = ("assignments.parquet", "topics.parquet")


def parallel_fit_inputs(base: Path) -> tuple[Path, Path, Path]:
    """400 dirty records and a config whose layer 2 fans its per-topic fits out even at
    this size (``parallel_min_rows`` 0; the default keeps small layers in the process)."""
    data = base / "data.csv"
    write_dirty_opportunities(data, rows=400)
    config = {**CONFIG, "ensemble": {**CONFIG["ensemble"], "parallel_min_rows": 0}}
    return data, write_config(base / "config.yaml", config), base


def fit(data: Path, config: Path, root: Path, *extra: str, cache: Path | None = None) -> str:
    """``strata fit EXTRA...`` in ``root`` (its own cache unless ``cache``); the run id."""
    root.mkdir(parents=True, exist_ok=True)
    cmd = [*_fit_cmd(data, root, config), *extra]
    if cache is not None:
        cmd[cmd.index("--cache-dir") + 1] = str(cache)
    done = run_logged(cmd, strata_env(), root / "log", new_session=False)
    assert done.returncode == 0, (root / "log").read_text()
    return list_runs(root, limit=1)[0].run_id  # newest first


def results(root: Path) -> dict[str, bytes]:
    """The run directory's result files, byte for byte."""
    return {name: (root / "run" / name).read_bytes() for name in RESULT_FILES}
