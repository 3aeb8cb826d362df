"""Analytics of a run at one level: use case x industry, x revenue band, top by revenue.

Each table pages in HTML and downloads whole as CSV at
``/runs/RUN/analytics/TABLE.csv?level=L`` (TABLE: industry, revenue-bands, top-revenue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from topicstrata.io.schema import ANNUALIZED_REVENUE, INDUSTRY
from topicstrata.studio.errors import StudioError, bad_param
from topicstrata.studio.pages import render
from topicstrata.studio.routes.common import run_files
from topicstrata.studio.rundir import RunDir
from topicstrata.studio.segments import (
    DEFAULT_BANDS,
    industry_table,
    parse_bands,
    revenue_band_table,
    share_of_rows,
    top_by_revenue,
)

router = APIRouter()

TABLES = ("industry", "revenue-bands", "top-revenue")


def _tables(files: RunDir, level: int, bands: str | None) -> dict[str, Callable[[], pd.DataFrame]]:
    files.check_level(level)
    column = f"path_l{level}"
    frame = files.assignments([column, INDUSTRY, ANNUALIZED_REVENUE])
    labels = files.labels()
    edges = parse_bands(bands)
    return {
        "industry": lambda: industry_table(frame, column, labels),
        "revenue-bands": lambda: revenue_band_table(frame, column, labels, edges),
        "top-revenue": lambda: top_by_revenue(frame, column, labels),
    }


def _page_of(table: pd.DataFrame, page: int, per_page: int) -> tuple[pd.DataFrame, int]:
    pages = max(1, -(-len(table) // per_page))
    if page > pages:
        raise bad_param("page", page, f"the tables at this level have {pages} page(s).")
    return table.iloc[(page - 1) * per_page : page * per_page], pages


def _heatmap(counts: pd.DataFrame, shares: pd.DataFrame) -> str:
    columns = [c for c in counts.columns if c not in ("use_case", "label", "total")]
    names = [
        f"{p} {label}"[:60] for p, label in zip(counts["use_case"], counts["label"], strict=True)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=shares[columns].to_numpy(),
            x=columns,
            y=names,
            text=counts[columns].to_numpy(),
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "share of use case", "tickformat": ".0%"},
            hovertemplate="%{y}<br>%{x}: %{text} records (%{z:.1%})<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(320, 28 * len(names) + 160),
        margin={"t": 10, "l": 10, "r": 10, "b": 10},
        yaxis={"autorange": "reversed"},
    )
    html: str = figure.to_html(full_html=False, include_plotlyjs=False, div_id="industry-heatmap")
    return html


@router.get("/runs/{run_id}/analytics")
def analytics_page(
    request: Request,
    run_id: str,
    level: int = 1,
    bands: str | None = None,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=1000),
) -> Response:
    run, files = run_files(request, run_id)
    tables = _tables(files, level, bands)
    built: dict[str, Any] = {}
    pages = 1
    for name, make in tables.items():
        try:
            table = make()
        except StudioError as exc:  # e.g. a run without revenue: show the others
            built[name] = exc.detail
            continue
        shown, n_pages = _page_of(table, page, per_page)
        pages = max(pages, n_pages)
        built[name] = shown
    heatmap = None
    industry = built.get("industry")
    if isinstance(industry, pd.DataFrame) and not industry.empty:
        heatmap = _heatmap(industry, share_of_rows(industry))
        built["industry-share"] = share_of_rows(industry)
    return render(
        request,
        "analytics.html",
        run=run,
        level=level,
        depth=files.depth,
        bands=bands or ",".join(f"{e:.15g}" for e in DEFAULT_BANDS),
        tables=built,
        heatmap=heatmap,
        page=page,
        pages=pages,
        per_page=per_page,
    )


@router.get("/runs/{run_id}/analytics/{table}.csv")
def analytics_csv(
    request: Request, run_id: str, table: str, level: int = 1, bands: str | None = None
) -> Response:
    if table not in TABLES:
        raise StudioError(
            404, f"no table {table!r}", f"the CSV tables are {', '.join(TABLES)} (TABLE.csv)."
        )
    run, files = run_files(request, run_id)
    frame = _tables(files, level, bands)[table]()
    filename = f"{run.run_id}-{table}-level{level}.csv"
    return Response(
        frame.to_csv(index=False),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
