"""Use-case segmentation tables: by industry, by annualized-revenue band, by revenue.

Pure functions on a frame of assignments (one topic column, ``industry``,
``annualized_revenue``); the pages and their CSV downloads show the same tables.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from topicstrata.io.schema import ANNUALIZED_REVENUE, INDUSTRY
from topicstrata.mapping import path_sort_key
from topicstrata.studio.errors import bad_param

__all__ = [
    "DEFAULT_BANDS",
    "industry_table",
    "parse_bands",
    "revenue_band_table",
    "top_by_revenue",
]

#: Band edges of annualized revenue (currency units): <50k, 50k-250k, 250k-1M, >=1M.
DEFAULT_BANDS: tuple[float, ...] = (50_000.0, 250_000.0, 1_000_000.0)
MISSING = "(missing)"


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    order = sorted(frame.index.astype(str), key=path_sort_key)
    return frame.loc[order]


def _with_labels(frame: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    frame = _ordered(frame)
    frame.index.name = "use_case"
    out = frame.reset_index()
    out.insert(1, "label", [labels.get(str(p), str(p)) for p in out["use_case"]])
    return out


def industry_table(frame: pd.DataFrame, column: str, labels: Mapping[str, str]) -> pd.DataFrame:
    """Records per use case (rows) and industry (columns), with a ``total`` column."""
    if INDUSTRY not in frame.columns:
        raise bad_param("table", "industry", "this run's assignments have no industry column.")
    industry = frame[INDUSTRY].astype("string").fillna(MISSING).replace("", MISSING)
    counts = pd.crosstab(frame[column].astype(str), industry)
    counts = counts[sorted(counts.columns)]
    counts["total"] = counts.sum(axis=1)
    return _with_labels(counts, labels)


def share_of_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Each count as a share of its row's total (the use case's industry mix)."""
    values = table.drop(columns=["use_case", "label", "total"])
    shares = values.div(table["total"].where(table["total"] > 0), axis=0).fillna(0.0)
    return pd.concat([table[["use_case", "label"]], shares], axis=1)


def parse_bands(text: str | None) -> tuple[float, ...]:
    """Band edges from ``"50000,250000,1000000"``; 422 naming the parameter when invalid."""
    if text is None or not text.strip():
        return DEFAULT_BANDS
    try:
        edges = tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise bad_param(
            "bands", text, "give increasing revenue edges separated by commas, e.g. 50000,250000."
        ) from None
    finite = all(math.isfinite(e) for e in edges)
    if not edges or not finite or any(b <= a for a, b in itertools.pairwise(edges)):
        raise bad_param(
            "bands",
            text,
            "the edges must be finite numbers in increasing order, e.g. 50000,250000.",
        )
    return edges


def band_names(edges: Sequence[float]) -> list[str]:
    def money(x: float) -> str:
        for unit, div in (("M", 1e6), ("k", 1e3)):
            if abs(x) >= div:
                return f"{x / div:g}{unit}"
        return f"{x:g}"

    names = [f"< {money(edges[0])}"]
    names += [f"{money(a)} – {money(b)}" for a, b in itertools.pairwise(edges)]
    names.append(f">= {money(edges[-1])}")
    return names


def revenue_band_table(
    frame: pd.DataFrame, column: str, labels: Mapping[str, str], edges: Sequence[float]
) -> pd.DataFrame:
    """Records per use case and annualized-revenue band (``[a, b)``), with a ``total``."""
    if ANNUALIZED_REVENUE not in frame.columns:
        raise bad_param("table", "revenue", "this run's assignments have no annualized revenue.")
    names = band_names(edges)
    bins = [-math.inf, *edges, math.inf]
    band = pd.cut(frame[ANNUALIZED_REVENUE], bins=bins, labels=names, right=False)
    band = band.cat.add_categories([MISSING]).fillna(MISSING)
    counts = pd.crosstab(frame[column].astype(str), band)
    counts = counts.reindex(columns=[*names, MISSING], fill_value=0)
    if counts[MISSING].sum() == 0:
        counts = counts.drop(columns=[MISSING])
    counts.columns = [str(c) for c in counts.columns]
    counts["total"] = counts.sum(axis=1)
    return _with_labels(counts, labels)


def top_by_revenue(frame: pd.DataFrame, column: str, labels: Mapping[str, str]) -> pd.DataFrame:
    """Use cases by annualized revenue, largest first: records, sum, median, share of the sum."""
    if ANNUALIZED_REVENUE not in frame.columns:
        raise bad_param("table", "revenue", "this run's assignments have no annualized revenue.")
    grouped = frame.groupby(frame[column].astype(str))[ANNUALIZED_REVENUE]
    out = pd.DataFrame(
        {
            "records": grouped.size(),
            "revenue_sum": grouped.sum(),
            "revenue_median": grouped.median(),
        }
    )
    total = float(out["revenue_sum"].sum())
    out["revenue_share"] = out["revenue_sum"] / total if total else 0.0
    out = _with_labels(out, labels)
    return out.sort_values(["revenue_sum", "use_case"], ascending=[False, True]).reset_index(
        drop=True
    )
