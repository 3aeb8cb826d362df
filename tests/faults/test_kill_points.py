"""Issue 13, crash safety: the real ``strata fit`` killed with SIGKILL at one named point
of each kind, then recovered as a user would; the harness is ``_support/faults.py``.

Each kill lands at the middle hit of its point in an uninterrupted run (the census), and
recovery alternates between ``strata pipeline resume RUN`` and running ``strata fit``
again. ``bench/faults.py`` runs 20+ kill points drawn at random.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from _support.faults import census, kill_and_recover, table, write_config
from _support.runs import write_dirty_opportunities
from topicstrata._faults import POINTS, fault_point

CASES = [
    ("step-start", "resume"),
    ("step-end", "rerun"),
    ("artefact-write", "resume"),
    ("db-transaction", "rerun"),
    ("map-item", "resume"),
    ("embed-chunk", "rerun"),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Counter[str]]:
    base = tmp_path_factory.mktemp("faults")
    data = base / "data.csv"
    write_dirty_opportunities(data, rows=400)
    config = write_config(base / "config.yaml")
    hits = census(data, config, base / "reference")
    return data, config, base / "reference", hits


def test_an_uninterrupted_run_reaches_every_kill_point(reference):
    *_, hits = reference
    assert set(hits) == set(POINTS), f"points never reached: {set(POINTS) - set(hits)}"
    assert hits["step-start"] == hits["step-end"] > 10  # one of each per computed step


@pytest.mark.parametrize("point, how", CASES)
def test_a_run_killed_at_a_point_recovers_to_the_uninterrupted_result(reference, point, how):
    data, config, ref, hits = reference
    nth = max(1, (hits[point] + 1) // 2)
    root = ref.parent / f"{point}-{how}"
    result = kill_and_recover(data, config, ref, root, point, nth, how)
    print(table([result]))
    assert result.killed, result.error
    assert result.recovered, result.error
    assert result.identical, "assignments/topics differ from the uninterrupted run"
    assert result.artefacts_ok, "a stored artefact does not match its address"
    assert result.integrity == "ok"
    assert result.recorded and result.history[:2] == ["started", "interrupted"]
    if how == "resume":
        assert result.history[2:] == ["resumed"]
    # A killed write's temporary folder is removed by the run that recovers.
    assert result.leftover_tmp == 0


def test_fault_points_are_inert_without_the_trace_and_checked_with_it(tmp_path, monkeypatch):
    monkeypatch.delenv("STRATA_FAULT_TRACE", raising=False)
    fault_point("no-such-point")  # off: not even the name is looked at
    monkeypatch.setenv("STRATA_FAULT_TRACE", str(tmp_path / "trace"))
    monkeypatch.setenv("STRATA_FAULT", "step-end:3")
    fault_point("step-end")
    fault_point("step-end")  # the 2nd of 3: still alive
    assert (tmp_path / "trace").read_text().splitlines() == ["step-end", "step-end"]
    with pytest.raises(ValueError, match="unknown fault point 'no-such-point'"):
        fault_point("no-such-point")
