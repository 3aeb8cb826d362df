"""``strata evaluate``: score a run directory against labels (DESIGN's JSON contract)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from topicstrata.errors import InputError
from topicstrata.evaluate import evaluate_assignments
from topicstrata.io import IngestConfig, read_records
from topicstrata.io.schema import ID, KEYWORD_TOKENS
from topicstrata.mapping import load_mapping
from topicstrata.run.outputs import ASSIGNMENTS, METRICS, VIEWS


def _latest_mapping(run: Path):  # type: ignore[no-untyped-def]
    versions = sorted(run.glob("mapping.v*.yaml"), key=lambda p: int(p.stem.split(".v")[-1]))
    if not versions:
        raise InputError(f"{run}: no mapping.v<N>.yaml; is this a run directory of `strata fit`?")
    return load_mapping(versions[-1])


def evaluate_run(
    run: str | Path,
    data: str | Path | None = None,
    label_cols: Sequence[str] | None = None,
) -> dict[str, Any]:
    run = Path(run)
    if not (run / ASSIGNMENTS).is_file():
        raise InputError(
            f"{run}: no {ASSIGNMENTS}; pass the run directory written by `strata fit`."
        )
    assignments = pd.read_parquet(run / ASSIGNMENTS)
    views = pd.read_parquet(run / VIEWS) if (run / VIEWS).is_file() else None
    labels: dict[str, Any] | None = None
    if data is not None:
        if not label_cols:
            raise InputError("--data needs --labels COL1[,COL2[,COL3]] (coarsest level first).")
        table = read_records(data, IngestConfig()).table
        missing = [c for c in label_cols if c not in table.columns]
        if missing:
            raise InputError(f"{data}: label column(s) {', '.join(missing)} not found.")
        joined = assignments[[ID]].merge(table[[ID, *label_cols]], on=ID, how="left")
        labels = {c: joined[c].to_numpy() for c in label_cols}
    elif views is not None:
        cols = list(
            label_cols or [c for c in views.columns if c not in (ID, "embed_text", KEYWORD_TOKENS)]
        )
        labels = {c: views[c].to_numpy() for c in cols if c in views.columns} or None
    mapping = _latest_mapping(run)
    entries = mapping.by_path()
    leaves = sorted(set(assignments["path"]) - {"-1"})
    topic_words = [entries[p].keywords for p in leaves if p in entries and entries[p].keywords]
    corpus = [t.split() for t in views[KEYWORD_TOKENS]] if views is not None else None
    result = evaluate_assignments(
        assignments["path"].to_numpy(),
        labels=labels,
        topic_words=topic_words or None,
        corpus_tokens=corpus,
        tree_keywords={path: entry.keywords for path, entry in entries.items()},
    )
    # Stability needs a refit on the embeddings, so it is measured at fit time.
    fitted = run / METRICS
    if fitted.is_file():
        stored = json.loads(fitted.read_text(encoding="utf-8"))
        if stored.get("stability") is not None:
            result["stability"] = stored["stability"]
    return result
