"""Run metadata in SQLite (``<root>/.strata/strata.db``, WAL mode).

Tables: ``runs`` (one row per pipeline run), ``steps`` (one row per step of
a run: status, times, attempts, cache hit, error, traceback, log excerpt,
output artefacts), ``run_events`` (a run's history: started, interrupted,
resumed), ``lineage`` (artefacts each step read and wrote) and
``cache`` (cache key -> output artefacts). Every write is its own committed
transaction, so a killed process loses at most the step in flight.
Connections are opened per operation, so the store is safe to share between
threads and processes.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from topicstrata._faults import fault_point
from topicstrata.errors import PipelineError, output_error

__all__ = ["RunRecord", "RunStore", "StepRecord"]

RUN_STATUSES = ("running", "waiting", "succeeded", "failed", "stopped", "interrupted")
STEP_STATUSES = ("pending", "running", "succeeded", "failed", "skipped", "waiting", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    factory TEXT,
    status TEXT NOT NULL,
    parameters TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    error TEXT,
    waiting TEXT,
    host TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL,
    ended_at REAL,
    duration_s REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    cache_hit INTEGER NOT NULL DEFAULT 0,
    cache_key TEXT,
    outputs TEXT,
    error TEXT,
    traceback TEXT,
    log TEXT,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS lineage (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    direction TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (run_id, step, direction, name)
);
CREATE TABLE IF NOT EXISTS run_events (
    run_id TEXT NOT NULL,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    step TEXT NOT NULL,
    outputs TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


@dataclass
class StepRecord:
    """One step of one run, as stored."""

    run_id: str
    step: str
    kind: str
    status: str
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    attempts: int = 0
    cache_hit: bool = False
    cache_key: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    log: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started"] = _iso(self.started_at)
        out["ended"] = _iso(self.ended_at)
        return out


@dataclass
class RunRecord:
    """One pipeline run, as stored."""

    run_id: str
    pipeline: str
    factory: str | None
    status: str
    parameters: dict[str, Any]
    started_at: float
    ended_at: float | None = None
    error: str | None = None
    waiting: dict[str, Any] | None = None
    host: str | None = None
    pid: int | None = None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started"] = _iso(self.started_at)
        out["ended"] = _iso(self.ended_at)
        return out


#: SQLite's words for "the disk cannot take this write".
_WRITE_FAILURES = ("full", "readonly", "read-only", "disk I/O", "unable to open")


#: How long opening a new store waits for other processes switching it to WAL (seconds).
WAL_WAIT = 30.0


def _use_wal(con: sqlite3.Connection, path: Path) -> None:
    """Switch the store to WAL (a setting kept in the file), waiting out other openers.

    Two processes creating the same store at once can each hold a read lock while
    asking for the exclusive lock the switch needs; SQLite then answers one of them
    "database is locked" at once instead of calling the busy handler (it would wait
    forever). The one refused retries: by then the other has switched the file.
    """
    deadline = time.monotonic() + WAL_WAIT
    delay = 0.01
    while True:
        try:
            if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise PipelineError(
                    f"cannot open the run store {path}: {exc}. Another strata process may "
                    "hold it; wait for it to finish, or use another --root."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class RunStore:
    """SQLite store of runs, step executions, lineage and the cache index."""

    def __init__(self, root: str | Path = ".") -> None:
        self.root = Path(root)
        self.path = self.root / ".strata" / "strata.db"
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(
                "the run store", self.path.parent, exc, "or choose another --root"
            ) from exc
        with self._connect() as con:
            _use_wal(con, self.path)
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, inside a transaction committed on exit.

        Connections stay open per thread: closing the last connection to a
        WAL database checkpoints it, which would cost an fsync per write.
        """
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, timeout=30.0)
            except sqlite3.Error as exc:
                raise PipelineError(f"cannot open the run store {self.path}: {exc}") from exc
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA busy_timeout=30000")
            # WAL + NORMAL survives a killed process; only a power cut may lose the last commit.
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        try:
            with con:
                yield con
                fault_point("db-transaction")
        except sqlite3.OperationalError as exc:
            if not any(word in str(exc) for word in _WRITE_FAILURES):
                raise
            raise output_error(
                "the run store",
                self.path,
                exc,
                "then resume the run (`strata pipeline resume RUN`) or run it again",
            ) from exc

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # runs -----------------------------------------------------------------

    def create_run(
        self, pipeline: str, parameters: Mapping[str, Any], factory: str | None = None
    ) -> str:
        """Insert a new run with status ``running`` and return its id."""
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        try:
            params_json = json.dumps(dict(parameters))
        except TypeError as exc:
            raise PipelineError(f"parameters must be JSON-serializable: {exc}") from exc
        with self._connect() as con:
            con.execute(
                "INSERT INTO runs (run_id, pipeline, factory, status, parameters, started_at, "
                "host, pid) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (
                    run_id,
                    pipeline,
                    factory,
                    params_json,
                    time.time(),
                    socket.gethostname(),
                    os.getpid(),
                ),
            )
        self.add_event(run_id, "started", f"process {os.getpid()} on {socket.gethostname()}")
        return run_id

    def add_event(self, run_id: str, event: str, detail: str = "") -> None:
        """Append to a run's history (``started``, ``interrupted``, ``resumed``)."""
        with self._connect() as con:
            con.execute(
                "INSERT INTO run_events (run_id, at, event, detail) VALUES (?, ?, ?, ?)",
                (run_id, time.time(), event, detail),
            )

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """A run's history, oldest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT at, event, detail FROM run_events WHERE run_id = ? ORDER BY at, rowid",
                (run_id,),
            ).fetchall()
        return [{"at": _iso(r["at"]), "event": r["event"], "detail": r["detail"]} for r in rows]

    def mark_interrupted(self) -> list[str]:
        """Record as ``interrupted`` every run this host lists as running whose process is
        gone (killed, or its machine restarted), with the steps it had in flight; returns
        their ids. Such a run never ends by itself: without this it would stay "running"
        in every listing, and its history would not show that an attempt died."""
        host = socket.gethostname()
        with self._connect() as con:
            rows = con.execute(
                "SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ?", (host,)
            ).fetchall()
        dead = [(r["run_id"], r["pid"]) for r in rows if r["pid"] and not pid_alive(r["pid"])]
        for run_id, pid in dead:
            with self._connect() as con:
                steps = [
                    r["step"]
                    for r in con.execute(
                        "SELECT step FROM steps WHERE run_id = ? AND status = 'running'",
                        (run_id,),
                    )
                ]
                con.execute(
                    "UPDATE steps SET status = 'interrupted' WHERE run_id = ? "
                    "AND status = 'running'",
                    (run_id,),
                )
                where = f" in step(s) {', '.join(steps)}" if steps else ""
                detail = f"process {pid} on {host} ended while running{where}"
                con.execute(
                    "UPDATE runs SET status = 'interrupted', error = ? WHERE run_id = ?",
                    (
                        f"interrupted: {detail}; `strata pipeline resume {run_id}` continues it",
                        run_id,
                    ),
                )
                con.execute(
                    "INSERT INTO run_events (run_id, at, event, detail) VALUES (?, ?, ?, ?)",
                    (run_id, time.time(), "interrupted", detail),
                )
        return [run_id for run_id, _ in dead]

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run (status, ended_at, error, waiting, parameters, pid, host)."""
        if "waiting" in fields and fields["waiting"] is not None:
            fields["waiting"] = json.dumps(fields["waiting"])
        if "parameters" in fields:
            fields["parameters"] = json.dumps(fields["parameters"])
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._connect() as con:
            con.execute(f"UPDATE runs SET {cols} WHERE run_id = ?", (*fields.values(), run_id))

    def get_run(self, run_id: str) -> RunRecord:
        """The run ``run_id`` (a unique prefix is enough); PipelineError if unknown."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM runs WHERE run_id = ? OR run_id LIKE ? ORDER BY run_id",
                (run_id, run_id + "%"),
            ).fetchall()
        exact = [r for r in rows if r["run_id"] == run_id]
        rows = exact or rows
        if not rows:
            raise PipelineError(
                f"no run {run_id!r} in {self.path}; `strata pipeline list` shows the runs"
            )
        if len(rows) > 1:
            ids = ", ".join(r["run_id"] for r in rows[:5])
            raise PipelineError(f"run id {run_id!r} is ambiguous: {ids}")
        return self._run(rows[0])

    @staticmethod
    def _run(row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            run_id=row["run_id"],
            pipeline=row["pipeline"],
            factory=row["factory"],
            status=row["status"],
            parameters=json.loads(row["parameters"]),
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            error=row["error"],
            waiting=json.loads(row["waiting"]) if row["waiting"] else None,
            host=row["host"],
            pid=row["pid"],
        )

    def list_runs(self, pipeline: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Most recent runs first (runs whose process died show as ``interrupted``)."""
        self.mark_interrupted()
        sql = "SELECT * FROM runs"
        args: list[Any] = []
        if pipeline:
            sql += " WHERE pipeline = ?"
            args.append(pipeline)
        sql += " ORDER BY started_at DESC, run_id DESC LIMIT ?"
        args.append(limit)
        with self._connect() as con:
            return [self._run(r) for r in con.execute(sql, args).fetchall()]

    # steps ----------------------------------------------------------------

    def upsert_step(self, record: StepRecord) -> None:
        """Insert or replace a step row (committed immediately)."""
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO steps (run_id, step, kind, status, started_at, ended_at, "
                "duration_s, attempts, cache_hit, cache_key, outputs, error, traceback, log) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.run_id,
                    record.step,
                    record.kind,
                    record.status,
                    record.started_at,
                    record.ended_at,
                    record.duration_s,
                    record.attempts,
                    int(record.cache_hit),
                    record.cache_key,
                    json.dumps(record.outputs),
                    record.error,
                    record.traceback,
                    record.log,
                ),
            )

    def get_steps(self, run_id: str) -> list[StepRecord]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM steps WHERE run_id = ? ORDER BY COALESCE(started_at, 1e18), step",
                (run_id,),
            ).fetchall()
        return [
            StepRecord(
                run_id=r["run_id"],
                step=r["step"],
                kind=r["kind"],
                status=r["status"],
                started_at=r["started_at"],
                ended_at=r["ended_at"],
                duration_s=r["duration_s"],
                attempts=r["attempts"],
                cache_hit=bool(r["cache_hit"]),
                cache_key=r["cache_key"],
                outputs=json.loads(r["outputs"] or "{}"),
                error=r["error"],
                traceback=r["traceback"],
                log=r["log"],
            )
            for r in rows
        ]

    # lineage --------------------------------------------------------------

    def add_lineage(
        self, run_id: str, step: str, direction: str, artefacts: Mapping[str, str]
    ) -> None:
        """Record that ``step`` read (``direction="read"``) or wrote the named artefacts."""
        if not artefacts:
            return
        with self._connect() as con:
            con.executemany(
                "INSERT OR REPLACE INTO lineage (run_id, step, direction, name, sha256) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, step, direction, name, sha) for name, sha in artefacts.items()],
            )

    def lineage(self, run_id: str, step: str | None = None) -> list[dict[str, str]]:
        sql = "SELECT step, direction, name, sha256 FROM lineage WHERE run_id = ?"
        args: list[Any] = [run_id]
        if step is not None:
            sql += " AND step = ?"
            args.append(step)
        with self._connect() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY step, direction, name", args)]

    # cache ----------------------------------------------------------------

    def cache_get(self, key: str, max_age: float | None = None) -> dict[str, str] | None:
        """The outputs stored under ``key`` unless missing or older than ``max_age`` seconds."""
        with self._connect() as con:
            sql = "SELECT outputs, created_at FROM cache WHERE key = ?"
            row = con.execute(sql, (key,)).fetchone()
        if row is None:
            return None
        if max_age is not None and time.time() - row["created_at"] > max_age:
            return None
        outputs: dict[str, str] = json.loads(row["outputs"])
        return outputs

    def cache_put(self, key: str, step: str, outputs: Mapping[str, str]) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO cache (key, step, outputs, created_at) VALUES (?, ?, ?, ?)",
                (key, step, json.dumps(dict(outputs)), time.time()),
            )

    def cache_delete(self, key: str) -> None:
        with self._connect() as con:
            con.execute("DELETE FROM cache WHERE key = ?", (key,))


def summarize_steps(steps: Sequence[StepRecord]) -> dict[str, int]:
    """Counts of steps per status, plus ``cached``."""
    counts: dict[str, int] = {}
    for s in steps:
        counts[s.status] = counts.get(s.status, 0) + 1
        if s.cache_hit:
            counts["cached"] = counts.get("cached", 0) + 1
    return counts
