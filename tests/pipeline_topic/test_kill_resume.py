"""Issue 12, resumable at 1M: a default-pipeline fit killed with SIGKILL mid-embedding or
mid-layer picks up where it stopped, and ends with an uninterrupted run's assignments.

Each run is a child process (``_support/kill_resume_runner.py``) on the large-input
path. Its embedder writes a line per text it has encoded and its per-topic fit a line
per topic it has fitted, so the test can count what a second run redid. The runner
hangs at a chosen encode chunk or topic fit, when exactly the earlier ones are
committed to the caches; the test kills it there, so the counts are exact.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from _support.kill_resume_runner import FLUSH_ROWS
from _support.runs import write_dirty_opportunities
from topicstrata.pipeline import list_runs, run_status

TESTS_DIR = Path(__file__).resolve().parents[1]
RUN_LIMIT_S = 300


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), *sys.path])}


def _command(root: Path, data: Path, events: Path, *extra: str) -> list[str]:
    runner = [sys.executable, "-m", "_support.kill_resume_runner"]
    return [*runner, str(root), str(data), str(events), *extra]


def _finish(root: Path, data: Path, events: Path, *extra: str) -> dict[str, Any]:
    """Run the runner to the end; returns its summary."""
    summary = root.parent / f"{root.name}.{events.name}.json"
    done = subprocess.run(
        _command(root, data, events, "--summary", str(summary), *extra),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_S,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(summary.read_text())
    assert result["status"] == "succeeded"
    return result


def _kill_at_hang(root: Path, data: Path, events: Path, *extra: str) -> None:
    """Start the runner, wait for its ``hang`` line, SIGKILL its process group."""
    log = root.parent / f"{root.name}.stderr"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            _command(root, data, events, *extra),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + RUN_LIMIT_S
            while not any(kind == "hang" for kind, _ in _lines(events)):
                if proc.poll() is not None:
                    pytest.fail(f"the run ended before its hang point:\n{log.read_text()[-4000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"the run never reached its hang point:\n{log.read_text()[-4000:]}")
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def _lines(events: Path) -> list[tuple[str, str]]:
    """The runner's event lines as (kind, rest): ``encode <sha1>``, ``fit <digest>``..."""
    if not events.exists():
        return []
    return [line.partition(" ")[::2] for line in events.read_text().splitlines()]


def _done(events: Path, kind: str) -> Counter[str]:
    """How often each text was encoded (``encode``) or each topic fitted (``fit``)."""
    return Counter(key for k, key in _lines(events) if k == kind)


def _map_counts(log: str, task: str) -> tuple[int, int]:
    """(from cache, computed) that the layer step logged for ``task`` ("layer 2 topics")."""
    found = re.findall(rf"{task}: (\d+) item\(s\) from cache, (\d+) computed", log)
    assert len(found) == 1, log
    return int(found[0][0]), int(found[0][1])


def _assignments(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "run" / "assignments.parquet")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kill_resume") / "opps.csv"
    write_dirty_opportunities(path, rows=600)
    return path


@pytest.fixture(scope="module")
def uninterrupted(data) -> dict[str, Any]:
    """One run from empty caches to the end: what every text and topic costs once."""
    root = data.parent / "uninterrupted"
    events = data.parent / "uninterrupted.events"
    summary = _finish(root, data, events)
    encoded, fitted = _done(events, "encode"), _done(events, "fit")
    # Each teacher text encoded once; layer 1 (one fit) then enough layer-2 topics
    # that a kill after the first of them still leaves several to fit.
    assert encoded and max(encoded.values()) == 1
    assert len(encoded) > 3 * FLUSH_ROWS
    assert max(fitted.values()) == 1 and len(fitted) >= 4
    return {"root": root, "encoded": encoded, "fitted": fitted, "summary": summary}


def test_killed_mid_embedding_rerun_encodes_only_the_unflushed_texts(data, uninterrupted):
    """Killed in the third embedding chunk; ``strata fit`` again (a new run, same cache)."""
    root = data.parent / "embed_kill"
    first, second = data.parent / "embed_kill.1.events", data.parent / "embed_kill.2.events"
    _kill_at_hang(root, data, first, "--hang-encode", "3")
    flushed = _done(first, "encode")
    assert sum(flushed.values()) == 2 * FLUSH_ROWS  # two whole chunks, then the kill
    assert not _done(first, "fit")

    summary = _finish(root, data, second)
    again = _done(second, "encode")
    everything = uninterrupted["encoded"]
    assert max(again.values()) == 1
    assert not set(again) & set(flushed), "texts committed before the kill were encoded again"
    assert set(again) | set(flushed) == set(everything)
    assert sum(again.values()) == len(everything) - 2 * FLUSH_ROWS
    # What came before the embedding was finished and reused; the embedding itself ran.
    assert {"ingest", "preprocess"} <= set(summary["cache_hits"])
    assert "embed" in summary["executed"]
    pd.testing.assert_frame_equal(_assignments(root), _assignments(uninterrupted["root"]))


def test_killed_mid_layer_resume_refits_only_the_unfinished_topics(data, uninterrupted):
    """Killed in the second layer-2 topic (third fit); ``strata pipeline resume`` the run."""
    root = data.parent / "layer_kill"
    first, second = data.parent / "layer_kill.1.events", data.parent / "layer_kill.2.events"
    _kill_at_hang(root, data, first, "--hang-fit", "3")
    finished = _done(first, "fit")
    assert sum(finished.values()) == 2  # layer 1, and one layer-2 topic
    run_id = list_runs(root)[0].run_id
    steps = {name: record.status for name, record in run_status(root, run_id).steps.items()}
    # Its process is gone, so the store shows the step it was in as interrupted.
    assert steps["layer_1"] == "succeeded" and steps["layer_2"] == "interrupted"

    summary = _finish(root, data, second, "--resume")
    assert summary["run_id"] == run_id
    refitted = _done(second, "fit")
    everything = uninterrupted["fitted"]
    assert max(refitted.values()) == 1
    assert not set(refitted) & set(finished), "topics fitted before the kill were fitted again"
    assert set(refitted) | set(finished) == set(everything)
    assert not _done(second, "encode"), "the finished embedding step ran again"
    # The layer step's own account agrees: one layer-2 topic came from its item cache.
    n_layer2 = len(everything) - 1
    assert _map_counts(summary["logs"]["layer_2"], "layer 2 topics") == (1, n_layer2 - 1)
    assert "layer_1" not in summary["executed"] and "embed" not in summary["executed"]
    pd.testing.assert_frame_equal(_assignments(root), _assignments(uninterrupted["root"]))
