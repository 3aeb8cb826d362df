"""Runs from the store as the pages show them: status words, filter, pages, review calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topicstrata.errors import PipelineError
from topicstrata.pipeline import describe_run, list_runs
from topicstrata.pipeline.store import RUN_STATUSES, RunRecord, RunStore, summarize_steps
from topicstrata.studio.errors import StudioError, bad_param

__all__ = ["RunPage", "list_page", "review_layer", "run_detail", "status_word"]

#: How a status reads on the pages.
STATUS_WORDS = {"waiting": "waiting for review"}
#: Most runs the list scans (newest first) before filtering and paging.
MAX_LISTED = 10_000


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def has_store(root: Path) -> bool:
    """Whether ``root`` has a run store; pages never create one just by looking."""
    return (root / ".strata" / "strata.db").is_file()


@dataclass(frozen=True)
class RunPage:
    """One page of the run list."""

    runs: list[dict[str, Any]]
    page: int
    pages: int
    total: int


def list_page(root: Path, status: str | None, page: int, per_page: int) -> RunPage:
    """Runs newest first, only ``status`` when given, page ``page`` (1-based)."""
    if status is not None and status not in RUN_STATUSES:
        raise bad_param("status", status, f"use one of {', '.join(RUN_STATUSES)}, or leave it out.")
    if page < 1:
        raise bad_param("page", page, "pages start at 1.")
    if not has_store(root):
        return RunPage([], 1, 1, 0)
    records = [r for r in list_runs(root, limit=MAX_LISTED) if status in (None, r.status)]
    pages = max(1, -(-len(records) // per_page))
    if page > pages:
        raise bad_param("page", page, f"there are {pages} page(s) of runs.")
    shown = records[(page - 1) * per_page : page * per_page]
    store = RunStore(root)
    rows = []
    for rec in shown:
        counts = summarize_steps(store.get_steps(rec.run_id))
        rows.append({**_run_row(rec), "steps": counts})
    return RunPage(rows, page, pages, len(records))


def _run_row(rec: RunRecord) -> dict[str, Any]:
    out = rec.to_dict()
    out["status_word"] = status_word(rec.status)
    out["duration_s"] = rec.duration_s
    return out


def run_detail(root: Path, run_id: str) -> dict[str, Any]:
    """``describe_run`` with the status words and the review call of a waiting run."""
    if not has_store(root):
        raise StudioError(404, f"run {run_id} not found", f"there is no run store under {root}.")
    try:
        info = describe_run(root, run_id)
    except PipelineError as exc:
        raise StudioError(404, f"run {run_id} not found", str(exc)) from None
    info["status_word"] = status_word(info["status"])
    info["duration_s"] = None if info["ended_at"] is None else info["ended_at"] - info["started_at"]
    waiting = info.get("waiting") or {}
    info["review_layer"] = review_layer(str(waiting.get("step", "")))
    reads: dict[str, list[dict[str, str]]] = {}
    writes: dict[str, list[dict[str, str]]] = {}
    for row in info["lineage"]:
        (reads if row["direction"] == "read" else writes).setdefault(row["step"], []).append(row)
    for step in info["steps"]:
        step["status_word"] = status_word(step["status"])
        step["reads"] = reads.get(step["step"], [])
        step["writes"] = writes.get(step["step"], [])
    return info


def review_layer(step: str) -> int | None:
    """The layer a waiting review step is about: ``review_2`` -> 2."""
    match = re.fullmatch(r"review_(\d+)", step)
    return int(match.group(1)) if match else None


def get_run(root: Path, run_id: str) -> RunRecord:
    if not has_store(root):
        raise StudioError(404, f"run {run_id} not found", f"there is no run store under {root}.")
    try:
        return RunStore(root).get_run(run_id)
    except PipelineError as exc:
        raise StudioError(404, f"run {run_id} not found", str(exc)) from None
