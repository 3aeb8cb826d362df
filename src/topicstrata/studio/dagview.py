"""A run's pipeline drawn as a graph: steps in dependency columns, coloured by status.

The steps and edges come from the pipeline the run was built from (its stored
factory), the status, duration and cache hit of each step from the run store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from topicstrata.errors import PipelineError
from topicstrata.pipeline import import_pipeline

__all__ = ["STATUS_COLOURS", "step_graph"]

logger = logging.getLogger(__name__)

STATUS_COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "interrupted": "#c62828",
    "waiting": "#e0a800",
    "running": "#1565c0",
    "skipped": "#9e9e9e",
    "pending": "#cfd8dc",
}


def _columns(order: list[str], upstream: Mapping[str, set[str]]) -> dict[str, int]:
    """Each step's column: one more than its deepest upstream step."""
    depth: dict[str, int] = {}
    for name in order:
        ups = [depth[u] for u in upstream.get(name, set()) if u in depth]
        depth[name] = 1 + max(ups) if ups else 0
    return depth


def step_graph(factory: str | None, steps: list[dict[str, Any]]) -> go.Figure | None:
    """The DAG of ``factory``'s pipeline with ``steps`` (stored records) on it; None when
    the factory cannot be imported here (the step table still shows everything)."""
    if not factory:
        return None
    try:
        dag = import_pipeline(factory).dag
    except PipelineError as exc:
        logger.info("no DAG for %s: %s", factory, exc)
        return None
    stored = {s["step"]: s for s in steps}
    column = _columns(dag.order, dag.upstream)
    rows: dict[int, int] = {}
    position: dict[str, tuple[float, float]] = {}
    for name in dag.order:
        row = rows.get(column[name], 0)
        rows[column[name]] = row + 1
        position[name] = (float(column[name]), -float(row))
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for edge in dag.edges:
        if edge.source in position and edge.target in position:
            (x0, y0), (x1, y1) = position[edge.source], position[edge.target]
            edge_x += [x0, x1, None]
            edge_y += [y0, y1, None]
    names = list(position)
    status = [str(stored.get(n, {}).get("status", "pending")) for n in names]
    hover = []
    for name, state in zip(names, status, strict=True):
        rec = stored.get(name, {})
        extra = " (cache hit)" if rec.get("cache_hit") else ""
        seconds = rec.get("duration_s")
        took = f", {seconds:.2f} s" if seconds is not None else ""
        hover.append(f"{name}: {state}{took}{extra}")
    figure = go.Figure(
        [
            go.Scatter(
                x=edge_x,
                y=edge_y,
                mode="lines",
                line={"color": "#b0bec5", "width": 1},
                hoverinfo="skip",
            ),
            go.Scatter(
                x=[position[n][0] for n in names],
                y=[position[n][1] for n in names],
                mode="markers+text",
                text=names,
                textposition="top center",
                hovertext=hover,
                hoverinfo="text",
                marker={
                    "size": 16,
                    "color": [STATUS_COLOURS.get(s, "#cfd8dc") for s in status],
                    "line": {
                        "width": [3 if stored.get(n, {}).get("cache_hit") else 0 for n in names],
                        "color": "#1d2330",
                    },
                },
            ),
        ]
    )
    depth = max(rows.values(), default=1)
    figure.update_layout(
        showlegend=False,
        height=max(220, 70 * depth + 80),
        margin={"t": 20, "l": 20, "r": 20, "b": 20},
        xaxis={"visible": False},
        yaxis={"visible": False},
        plot_bgcolor="#fff",
    )
    return figure
