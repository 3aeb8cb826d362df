"""The topic tree of a run as nodes with record counts, and its sunburst and treemap.

Counts come from the leaf path of every record (``assignments.parquet``'s
``path``): a node's size is the number of records at or below it, so the
top-level sizes add up to the number of records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from topicstrata.mapping import path_sort_key

__all__ = ["TopicNode", "build_tree", "roots", "tree_figure"]


@dataclass
class TopicNode:
    """One topic of the final tree."""

    path: str
    label: str
    size: int = 0
    children: list[str] = field(default_factory=list)

    @property
    def parent(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def level(self) -> int:
        return self.path.count(".") + 1


def build_tree(leaf_paths: pd.Series, labels: Mapping[str, str]) -> dict[str, TopicNode]:
    """Every path and its ancestors, with the number of records at or below it, in tree order."""
    counts = leaf_paths.astype(str).value_counts()
    nodes: dict[str, TopicNode] = {}
    for path, n in counts.items():
        parts = str(path).split(".")
        for depth in range(1, len(parts) + 1):
            sub = ".".join(parts[:depth])
            node = nodes.get(sub)
            if node is None:
                default = "Outliers" if sub.split(".")[-1] == "-1" else sub
                node = nodes[sub] = TopicNode(sub, labels.get(sub, default))
            node.size += int(n)
    ordered = {p: nodes[p] for p in sorted(nodes, key=path_sort_key)}
    for node in ordered.values():
        if node.parent in ordered:
            ordered[node.parent].children.append(node.path)
    return ordered


def roots(nodes: Mapping[str, TopicNode]) -> list[TopicNode]:
    return [n for n in nodes.values() if n.parent not in nodes]


def tree_figure(nodes: Mapping[str, TopicNode], kind: str, base_url: str) -> go.Figure:
    """A sunburst or treemap (``kind``); size = records, ``branchvalues="total"``.

    Each node carries its topic page's URL in ``customdata`` for the click-through.
    """
    values = list(nodes.values())
    trace_type = go.Sunburst if kind == "sunburst" else go.Treemap
    trace = trace_type(
        ids=[n.path for n in values],
        parents=[n.parent if n.parent in nodes else "" for n in values],
        labels=[f"{n.path} {n.label}" for n in values],
        values=[n.size for n in values],
        branchvalues="total",
        customdata=[f"{base_url}/{n.path}" for n in values],
        hovertemplate="%{label}<br>%{value} records (%{percentRoot:.1%})<extra></extra>",
        maxdepth=3,
    )
    figure = go.Figure(trace)
    figure.update_layout(margin={"t": 10, "l": 10, "r": 10, "b": 10}, height=560)
    return figure
