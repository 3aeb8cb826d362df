"""The crash-safety harness: kill the real ``strata fit`` at a named point, recover, compare.

Used by ``tests/faults`` (a handful of kill points) and ``bench/faults.py`` (20+ drawn at
random). A kill point is ``(point, n)``: the n-th time any process of the run reaches
``topicstrata._faults.fault_point(point)``, the run's process group gets SIGKILL. The
points and what each interrupts are listed in ``topicstrata._faults.POINTS``.

:func:`census` runs ``strata fit`` once, uninterrupted, with the trace on: its run
directory is the reference and its trace says how often each point is reached.
:func:`kill_and_recover` runs ``strata fit`` in a fresh root with one kill point, then
recovers the way a user would (``strata pipeline resume RUN`` or ``strata fit`` again)
and checks what the issue asks of every recovery:

- ``assignments.parquet`` (and ``topics.parquet``) byte-identical to the reference;
- every artefact in the store verifies against its content address (nothing half-written
  sits under a valid name for a later run to reuse);
- ``.strata/strata.db`` passes ``PRAGMA integrity_check``;
- the killed run's history shows the kill (``interrupted``).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from _support.runs import CHEAP_CONFIG
from topicstrata.pipeline import describe_run, list_runs
from topicstrata.pipeline.artifacts import ArtifactStore, CorruptArtifactError

STRATA = str(Path(sys.executable).with_name("strata"))
RUN_LIMIT_S = 600

#: The cheap real pipeline (TF-IDF vectors, PCA reducers), every layer split, stability on
#: a small sample so that step runs too.
CONFIG: dict[str, Any] = {**CHEAP_CONFIG, "evaluate": {"stability_sample": 200}}


@dataclass
class Recovery:
    """How one kill point went."""

    point: str
    nth: int
    how: str  # "resume" or "rerun"
    killed: bool = False
    recovered: bool = False
    identical: bool = False
    artefacts_ok: bool = False
    integrity: str = ""
    recorded: bool = False  # the killed run got as far as a run record
    history: list[str] = field(default_factory=list)
    leftover_tmp: int = 0
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.killed
            and self.recovered
            and self.identical
            and self.artefacts_ok
            and self.integrity == "ok"
            and (not self.recorded or "interrupted" in self.history)
        )


def write_config(path: Path, config: dict[str, Any] | None = None) -> Path:
    path.write_text(yaml.safe_dump(config or CONFIG), encoding="utf-8")
    return path


def _fit_cmd(data: Path, root: Path, config: Path) -> list[str]:
    return [
        STRATA,
        "fit",
        str(data),
        "-o",
        str(root / "run"),
        "--root",
        str(root),
        "--cache-dir",
        str(root / "cache"),
        "--config",
        str(config),
    ]


def run_logged(
    cmd: list[str],
    env: dict[str, str],
    log: Path,
    *,
    new_session: bool = True,
    timeout: float | None = RUN_LIMIT_S,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` with its output appended to ``log`` (after the command line)."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        # Its own session: the kill takes the run's process group, never the caller's.
        return subprocess.run(
            cmd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            start_new_session=new_session,
        )


def strata_env(trace: Path | None = None, fault: str | None = None) -> dict[str, str]:
    """This environment, offline, with the fault trace and kill point (``_faults``) set."""
    env = {k: v for k, v in os.environ.items() if k not in ("STRATA_FAULT", "STRATA_FAULT_TRACE")}
    env.setdefault("HF_HUB_OFFLINE", "1")
    if trace is not None:
        env["STRATA_FAULT_TRACE"] = str(trace)
    if fault is not None:
        env["STRATA_FAULT"] = fault
    return env


def reference_run(base: Path) -> tuple[Path, Path, Path]:
    """Dirty opportunities (400 rows), the harness config and one uninterrupted run of
    them under ``base``: ``(data, config, reference run directory)``."""
    from _support.runs import write_dirty_opportunities

    data = base / "data.csv"
    write_dirty_opportunities(data, rows=400)
    config = write_config(base / "config.yaml")
    census(data, config, base / "reference")
    return data, config, base / "reference" / "run"


def census(data: Path, config: Path, root: Path) -> Counter[str]:
    """One uninterrupted ``strata fit`` in ``root`` (the reference); hits per point."""
    root.mkdir(parents=True, exist_ok=True)
    trace = root / "trace"
    done = run_logged(_fit_cmd(data, root, config), strata_env(trace), root / "log")
    if done.returncode != 0:
        raise RuntimeError(f"the reference run failed ({done.returncode}); see {root / 'log'}")
    return Counter(line.strip() for line in trace.read_text().splitlines() if line.strip())


def check_store(root: Path) -> tuple[bool, int]:
    """Whether every stored artefact verifies, and how many temporary folders remain."""
    store = ArtifactStore(root)
    ok = True
    leftover = 0
    for folder in sorted(store.dir.iterdir()) if store.dir.is_dir() else []:
        if folder.name.startswith("tmp-"):
            leftover += 1
            continue
        try:
            store.verify(folder.name)
        except CorruptArtifactError:
            ok = False
    return ok, leftover


def integrity(root: Path) -> str:
    with sqlite3.connect(root / ".strata" / "strata.db") as db:
        return ",".join(row[0] for row in db.execute("PRAGMA integrity_check"))


def kill_and_recover(
    data: Path, config: Path, reference: Path, root: Path, point: str, nth: int, how: str
) -> Recovery:
    """``strata fit`` killed at ``(point, nth)`` in a fresh ``root``, then recovered by
    ``how`` ("resume": ``strata pipeline resume``; "rerun": ``strata fit`` again)."""
    result = Recovery(point=point, nth=nth, how=how)
    started = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    log = root / "log"
    env = strata_env(root / "trace", f"{point}:{nth}")
    first = run_logged(_fit_cmd(data, root, config), env, log)
    result.killed = first.returncode == -signal.SIGKILL
    if not result.killed:
        result.error = f"not killed: strata fit exited with {first.returncode}"
        result.seconds = time.monotonic() - started
        return result
    runs = list_runs(root) if (root / ".strata" / "strata.db").exists() else []
    killed_run = runs[-1].run_id if runs else None  # the only run so far
    if how == "resume" and killed_run is not None:
        cmd = [STRATA, "pipeline", "resume", killed_run, "--root", str(root)]
    else:
        # Killed before the run was recorded (nothing to resume), or asked to rerun.
        cmd = _fit_cmd(data, root, config)
    second = run_logged(cmd, strata_env(), log)
    result.recovered = second.returncode == 0
    if not result.recovered:
        result.error = f"recovery exited with {second.returncode}; see {log}"
    else:
        result.identical = all(
            (root / "run" / name).read_bytes() == (reference / "run" / name).read_bytes()
            for name in ("assignments.parquet", "topics.parquet")
        )
    result.artefacts_ok, result.leftover_tmp = check_store(root)
    result.integrity = integrity(root)
    result.recorded = killed_run is not None
    if killed_run is not None:
        result.history = [e["event"] for e in describe_run(root, killed_run)["history"]]
    result.seconds = time.monotonic() - started
    return result


def table(results: list[Recovery]) -> str:
    """The harness' markdown table."""
    lines = [
        "| kill point | recovered by | killed | recovered | identical | artefacts verify "
        "| integrity_check | history | tmp left | s |",
        "|---|---|---|---|---|---|---|---|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.point}:{r.nth} | {r.how} | {_yes(r.killed)} | {_yes(r.recovered)} | "
            f"{_yes(r.identical)} | {_yes(r.artefacts_ok)} | {r.integrity or '-'} | "
            f"{' → '.join(r.history) or 'no run recorded'} | {r.leftover_tmp} | {r.seconds:.0f} |"
        )
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"
