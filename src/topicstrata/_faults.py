"""Named kill points for the crash-safety harness (``tests/faults``, ``bench/faults.py``).

A run reaches :func:`fault_point` at the places where a crash is most likely to leave
something behind: a step starting or handing back its outputs, an artefact written but
not yet renamed into place, a SQLite transaction with its statements run but not
committed, a per-topic fan-out item finished, an embedding chunk half-written to its
cache. Two environment variables, both unset in normal runs, turn the points on:

``STRATA_FAULT_TRACE=FILE``
    every point reached appends its name to ``FILE`` (one line per hit, across every
    process of the run), so a harness learns how often an uninterrupted run reaches
    each point and can draw kill points from that census;
``STRATA_FAULT=POINT:N`` (needs the trace file, which holds the count)
    the N-th time any process of the run reaches ``POINT``, it kills its whole process
    group with SIGKILL: what the OOM killer or a lost machine does to a run, with no
    ``finally`` block, no atexit handler and no flush. The harness starts ``strata fit``
    in a session of its own, so the group is the run and its workers.

Written by hand because the kill has to land inside the library's own critical
sections (between a write and its rename, between a statement and its commit), which
no outside timer can hit on purpose. Unset, each call costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["POINTS", "fault_point"]

#: Every point the library reaches, with what a kill there interrupts.
POINTS: dict[str, str] = {
    "step-start": "a step recorded as running, its function not yet started",
    "step-end": "a step's outputs stored as artefacts, not yet recorded or cached",
    "artefact-write": "an artefact's files written to a temporary folder, not yet renamed",
    "db-transaction": "a run-store transaction's statements run, not yet committed",
    "map-item": "one per-topic fan-out item finished and stored, not yet cached",
    "embed-chunk": "an embedding chunk's vectors appended to the cache file, index uncommitted",
}


def fault_point(name: str) -> None:
    """Count a hit of ``name`` in the trace, and kill the run if it is the chosen one."""
    trace = os.environ.get("STRATA_FAULT_TRACE")
    if not trace:
        return
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}; known: {', '.join(POINTS)}")
    import fcntl

    # The lock makes "append, then count" one step across the run's processes.
    with open(trace, "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(f"{name}\n")
        f.flush()
        target = os.environ.get("STRATA_FAULT", "")
        point, _, nth = target.rpartition(":")
        if point != name:
            return
        f.seek(0)
        hits = sum(1 for line in f if line.rstrip("\n") == name)
        if hits == int(nth):
            f.write(f"killed at {name}:{nth} in process {os.getpid()}\n")
            f.flush()
            os.killpg(os.getpgrp(), signal.SIGKILL)
