"""Processes opening one fresh run store at the same moment all get it (issue 13's
concurrent fits met SQLite refusing one of them "database is locked" while both switched
the new file to WAL: a lock deadlock that SQLite reports at once instead of waiting)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

from topicstrata.pipeline.store import RunStore


def _open(root: str, barrier: Any, answers: Any) -> None:
    barrier.wait()
    try:
        RunStore(root)
        answers.put("ok")
    except Exception as exc:  # reported to the test, which names it
        answers.put(f"{type(exc).__name__}: {exc}")


def test_six_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    failures = []
    for round_no in range(50):  # the race lost about one round in ten before the fix
        root = tmp_path / f"root-{round_no}"
        barrier, answers = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(str(root), barrier, answers)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        failures += [a for a in (answers.get(timeout=10) for _ in procs) if a != "ok"]
        assert (root / ".strata" / "strata.db").is_file()
    assert failures == []
    con = RunStore(tmp_path / "root-0")
    with con._connect() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
