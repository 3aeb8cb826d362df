"""``report.html``: a readable, self-contained page about one fit (no CDN, no scripts)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from topicstrata.ensemble import Ensemble
from topicstrata.io.schema import ANNUALIZED_REVENUE, INDUSTRY
from topicstrata.mapping import path_sort_key

MAX_EXAMPLE_CHARS = 300


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("topicstrata.run", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )


def _tree(
    ensemble: Ensemble,
    assignments: pd.DataFrame,
    topics: pd.DataFrame,
    texts: dict[str, str],
) -> list[dict[str, Any]]:
    entries = ensemble.mapping_.by_path()
    n = max(len(assignments), 1)
    has_revenue = ANNUALIZED_REVENUE in assignments.columns
    by_path = topics.set_index("path")
    nodes: dict[str, dict[str, Any]] = {}
    depth = max(1, ensemble.n_layers_)
    for level in range(1, depth + 1):
        col = f"path_l{level}"
        groups = assignments.groupby(col)
        for path, rows in groups:
            path = str(path)
            if path in nodes or path.count(".") + 1 != level:
                continue
            entry = entries.get(path)
            node_info = by_path.loc[path] if path in by_path.index else None
            reps = list(node_info["representative_ids"]) if node_info is not None else []
            nodes[path] = {
                "path": path,
                "level": level,
                "label": entry.label if entry else ("Outliers" if path == "-1" else path),
                "keywords": list(entry.keywords) if entry else [],
                "phrases": list(entry.phrases) if entry else [],
                "flags": list(entry.flags) if entry else [],
                "size": len(rows),
                "share": len(rows) / n,
                "revenue": float(rows[ANNUALIZED_REVENUE].sum()) if has_revenue else None,
                "examples": [texts.get(str(r), "")[:MAX_EXAMPLE_CHARS] for r in reps[:3]],
                "children": [],
            }
    roots: list[dict[str, Any]] = []
    for path in sorted(nodes, key=path_sort_key):
        parent = path.rpartition(".")[0]
        (nodes[parent]["children"] if parent in nodes else roots).append(nodes[path])
    return roots


def _industry_table(assignments: pd.DataFrame, labels: dict[str, str]) -> str | None:
    if INDUSTRY not in assignments.columns or assignments[INDUSTRY].isna().all():
        return None
    use_case = assignments["path_l1"].map(lambda p: f"{labels.get(p, p)} ({p})")
    table = pd.crosstab(use_case, assignments[INDUSTRY].fillna("(missing)"))
    return table.to_html(classes="industry", border=0)


def _revenue_table(assignments: pd.DataFrame, labels: dict[str, str]) -> str | None:
    if (
        ANNUALIZED_REVENUE not in assignments.columns
        or assignments[ANNUALIZED_REVENUE].isna().all()
    ):
        return None
    use_case = assignments["path_l1"].map(lambda p: f"{labels.get(p, p)} ({p})")
    revenue = assignments[ANNUALIZED_REVENUE]
    table = (
        revenue.groupby(use_case)
        .agg(["count", "sum", "median"])
        .sort_values("sum", ascending=False)
    )
    table.columns = ["records", "total", "median"]
    return table.to_html(classes="revenue", border=0, float_format=lambda v: f"{v:,.0f}")


def render_report(
    ensemble: Ensemble,
    assignments: pd.DataFrame,
    topics: pd.DataFrame,
    metrics: dict[str, Any],
    texts: dict[str, str],
) -> str:
    """The HTML of ``report.html``."""
    from topicstrata._version import __version__

    labels = {e.path: e.label for e in ensemble.mapping_.topics}
    tree = _tree(ensemble, assignments, topics, texts)
    levels = [
        {"level": lv, "n": int(assignments[f"path_l{lv}"].nunique())}
        for lv in range(1, ensemble.n_layers_ + 1)
    ]
    outliers = float((assignments["path"] == "-1").mean()) if len(assignments) else 0.0
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            n_records=len(assignments),
            levels=levels,
            outlier_share=outliers,
            mapping_version=ensemble.mapping_.version,
            metrics={
                "npmi": metrics.get("npmi"),
                "diversity": metrics.get("diversity"),
                "levels": metrics.get("levels", []),
            },
            tree=tree,
            industry_table=_industry_table(assignments, labels),
            revenue_table=_revenue_table(assignments, labels),
            version=__version__,
        )
    )
