"""The topic tree of a run (sunburst, treemap, JSON) and one topic's page."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from topicstrata.io.schema import ANNUALIZED_REVENUE, INDUSTRY
from topicstrata.studio.errors import StudioError
from topicstrata.studio.pages import render
from topicstrata.studio.routes.common import run_files
from topicstrata.studio.rundir import RunDir
from topicstrata.studio.tree import TopicNode, build_tree, roots, tree_figure

router = APIRouter()

#: Representative records shown on a topic page, and industries in its mix.
SHOWN_RECORDS = 5
SHOWN_INDUSTRIES = 12
MAX_TEXT_CHARS = 600


def _tree(files: RunDir) -> tuple[dict[str, TopicNode], int]:
    paths = files.assignments(["path"])["path"]
    return build_tree(paths, files.labels()), len(paths)


@router.get("/runs/{run_id}/tree")
def tree_page(request: Request, run_id: str) -> Response:
    run, files = run_files(request, run_id)
    nodes, n_records = _tree(files)
    base = f"/runs/{run.run_id}/topics"
    figures = {
        kind: tree_figure(nodes, kind, base).to_html(
            full_html=False, include_plotlyjs=False, div_id=f"{kind}-chart"
        )
        for kind in ("sunburst", "treemap")
    }
    return render(
        request,
        "tree.html",
        run=run,
        run_dir=files.path,
        nodes=nodes,
        top=roots(nodes),
        n_records=n_records,
        figures=figures,
    )


@router.get("/runs/{run_id}/tree.json")
def tree_json(request: Request, run_id: str) -> Response:
    """The tree as the charts draw it: ids, parents, labels, values (records at or below)."""
    run, files = run_files(request, run_id)
    nodes, n_records = _tree(files)
    return JSONResponse(
        {
            "run_id": run.run_id,
            "n_records": n_records,
            "nodes": [
                {
                    "path": n.path,
                    "parent": n.parent if n.parent in nodes else "",
                    "label": n.label,
                    "size": n.size,
                    "children": n.children,
                }
                for n in nodes.values()
            ],
        }
    )


def _description(files: RunDir, path: str) -> dict[str, Any]:
    """The topic's keywords, phrases, representatives and flags from ``topics.parquet``."""
    topics = files.topics()
    final = topics["final_path"] if "final_path" in topics.columns else topics["path"]
    rows = topics[(topics["path"] == path) & (final == path)]
    if rows.empty:
        rows = topics[final == path]
    if rows.empty:
        return {"keywords": [], "phrases": [], "representative_ids": [], "flags": []}
    row = rows.iloc[0]
    scores = _list(row.get("keyword_scores"))
    keywords = _list(row.get("keywords"))
    return {
        "keywords": [
            (k, float(scores[i]) if i < len(scores) else None) for i, k in enumerate(keywords)
        ],
        "phrases": _list(row.get("phrases")),
        "representative_ids": [str(r) for r in _list(row.get("representative_ids"))],
        "flags": _list(row.get("flags")),
        "coherence": row.get("coherence"),
    }


@router.get("/runs/{run_id}/topics/{path}")
def topic_page(request: Request, run_id: str, path: str) -> Response:
    run, files = run_files(request, run_id)
    frame = files.assignments(["path", INDUSTRY, ANNUALIZED_REVENUE])
    nodes = build_tree(frame["path"], files.labels())
    node = nodes.get(path)
    if node is None:
        sample = ", ".join(n.path for n in roots(nodes)[:8])
        raise StudioError(
            404,
            f"topic {path} not found",
            f"run {run.run_id} has no topic {path!r}; its top-level topics are {sample}. "
            f"Open the tree at /runs/{run.run_id}/tree.",
        )
    paths = frame["path"].astype(str)
    mine = frame[(paths == path) | paths.str.startswith(path + ".")]
    industry: list[tuple[str, int, float]] = []
    if INDUSTRY in mine.columns:
        counts = mine[INDUSTRY].astype("string").fillna("(missing)").value_counts()
        industry = [
            (str(k), int(v), v / len(mine)) for k, v in counts.head(SHOWN_INDUSTRIES).items()
        ]
    revenue = None
    if ANNUALIZED_REVENUE in mine.columns:
        values = pd.to_numeric(mine[ANNUALIZED_REVENUE], errors="coerce")
        revenue = {"sum": float(values.sum()), "median": float(values.median())}
    described = _description(files, path)
    ids = described["representative_ids"][:SHOWN_RECORDS]
    texts = files.record_texts(ids)
    records = [(i, (texts.get(i) or "")[:MAX_TEXT_CHARS]) for i in ids]
    ancestors = [nodes[p] for p in _ancestors(path) if p in nodes]
    return render(
        request,
        "topic.html",
        run=run,
        node=node,
        ancestors=ancestors,
        children=[nodes[c] for c in node.children],
        share=node.size / len(frame) if len(frame) else 0.0,
        n_records=len(frame),
        described=described,
        records=records,
        industry=industry,
        revenue=revenue,
    )


def _list(value: Any) -> list[Any]:
    """A list from a Parquet list cell (a NumPy array, a list, or missing)."""
    return [] if value is None else list(value)


def _ancestors(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]
