"""Turn one raw chunk into canonical rows, and say why each other row was rejected.

Each row gets exactly one status, checked in this order: ``invalid`` (missing
id, non-numeric amount, term not a positive number, unreadable close date; all
reasons are listed), ``empty_text`` (every text field empty), ``duplicate_id``
(an earlier accepted row has the same id; the first one wins), else ``ok``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from topicstrata.io import schema
from topicstrata.io.columns import CANONICAL_COLUMNS, ColumnPlan
from topicstrata.io.config import IngestConfig
from topicstrata.io.readers import Chunk
from topicstrata.io.report import DUPLICATE_ID, EMPTY_TEXT, INVALID, REJECTED_COLUMNS

__all__ = ["ChunkResult", "validate_chunk"]

#: Cell values that mean "no value" in numeric and date columns (compared lower-case).
NULL_TOKENS: Final = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--"})

_THOUSANDS: Final = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_CURRENCY: Final = re.compile(r"^\s*[$€£¥]\s*|\s*[$€£¥]\s*$")
_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ChunkResult:
    """The accepted rows in canonical form and the rejected rows of one chunk."""

    table: pd.DataFrame
    rejected: pd.DataFrame


def validate_chunk(
    chunk: Chunk, plan: ColumnPlan, config: IngestConfig, first_rows: dict[str, int]
) -> ChunkResult:
    """Validate ``chunk``; ``first_rows`` maps accepted ids to their row and is updated."""
    frame = chunk.frame
    n = len(frame)
    rows = np.arange(chunk.first_row, chunk.first_row + n)
    reasons: list[list[str]] = [[] for _ in range(n)]

    if plan.id is not None:
        ids = [_id_string(v) for v in _column(frame, plan.id).tolist()]
        for i, value in enumerate(ids):
            if value is None:
                reasons[i].append(f"{plan.id} (id) is empty")
    else:
        ids = [f"row-{r}" for r in rows]

    texts = _join_text([_column(frame, c) for c in plan.text], n)
    amount = _numbers(_column(frame, plan.amount), "amount", plan.amount, reasons)
    term = _numbers(_column(frame, plan.term), "term_months", plan.term, reasons)
    for i in np.flatnonzero(term <= 0).tolist():
        reasons[i].append(f"{plan.term} (term_months) is {_fmt(term[i])}; it must be positive")
        term[i] = np.nan
    close_date = _dates(_column(frame, plan.close_date), plan.close_date, reasons)
    industry = _texts(_column(frame, plan.industry))

    term_for_revenue = (
        term
        if config.default_term_months is None
        else (np.where(np.isnan(term), config.default_term_months, term))
    )
    with np.errstate(over="ignore"):
        annualized = amount * config.annualize_factor / term_for_revenue
    for i in np.flatnonzero(np.isinf(annualized)).tolist():
        reasons[i].append(
            f"{plan.amount} (amount) {amount[i]:.6g} is too large: its annualized revenue "
            f"(amount * {config.annualize_factor:g} / {term_for_revenue[i]:g} months) "
            "overflows; check the value"
        )
        annualized[i] = np.nan

    statuses: list[str | None] = [None] * n
    messages: list[str] = [""] * n
    for i in range(n):
        if reasons[i]:
            statuses[i], messages[i] = INVALID, "; ".join(reasons[i])
        elif not texts[i]:
            statuses[i] = EMPTY_TEXT
            messages[i] = f"all text fields are empty ({', '.join(plan.text)})"
        else:
            key = ids[i]
            assert key is not None  # rows without an id were marked invalid
            if key in first_rows:
                statuses[i] = DUPLICATE_ID
                messages[i] = f"id {key!r} already used by row {first_rows[key]}"
            else:
                first_rows[key] = int(rows[i])

    ok = np.array([s is None for s in statuses], dtype=bool)
    canonical = {
        schema.ID: pd.Series(ids, dtype=object),
        schema.TEXT: pd.Series(texts, dtype=object),
        schema.INDUSTRY: pd.Series(industry, dtype=object),
        schema.AMOUNT: pd.Series(amount, dtype="float64"),
        schema.TERM_MONTHS: pd.Series(term, dtype="float64"),
        schema.ANNUALIZED_REVENUE: pd.Series(annualized, dtype="float64"),
        schema.CLOSE_DATE: pd.Series(close_date, dtype=object),
    }
    consumed = {plan.id, plan.industry, plan.amount, plan.term, plan.close_date}
    passthrough = [c for c in frame.columns if c not in consumed and c not in CANONICAL_COLUMNS]
    table = pd.concat([pd.DataFrame(canonical), frame[passthrough].reset_index(drop=True)], axis=1)
    table = table.loc[ok].reset_index(drop=True)

    bad = np.flatnonzero(~ok)
    rejected = pd.DataFrame(
        {
            "row": rows[bad].astype("int64"),
            "line": pd.array(
                [chunk.lines[i] for i in bad] if chunk.lines is not None else [None] * len(bad),
                dtype="Int64",
            ),
            "id": pd.Series([ids[i] for i in bad], dtype=object),
            "status": pd.Series([statuses[i] for i in bad], dtype=object),
            "reason": pd.Series([messages[i] for i in bad], dtype=object),
        },
        columns=list(REJECTED_COLUMNS),
    )
    return ChunkResult(table=table, rejected=rejected)


def _column(frame: pd.DataFrame, name: str | None) -> pd.Series:
    """The named column, or all-missing when absent (JSONL chunks may lack a key)."""
    if name is None or name not in frame:
        return pd.Series([None] * len(frame), dtype=object)
    return frame[name].reset_index(drop=True)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _text_value(value: Any) -> str | None:
    if _is_missing(value):
        return None
    text = str(value).strip()
    return text or None


def _texts(series: pd.Series) -> list[str | None]:
    """Stripped cell texts, ``None`` for missing or blank cells."""
    # tolist() first: iterating an Arrow-backed Series is several times slower.
    return [(v.strip() or None) if type(v) is str else _text_value(v) for v in series.tolist()]


def _id_string(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        # Integer ids read back as float when a column has gaps (JSONL, pandas).
        return str(int(value))
    return _text_value(value)


def _join_text(columns: list[pd.Series], n: int) -> list[str]:
    if not columns:
        return [""] * n
    values = [_texts(col) for col in columns]
    return ["\n".join(p for p in parts if p) for parts in zip(*values, strict=True)]


def _numbers(
    series: pd.Series, field: str, source: str | None, reasons: list[list[str]]
) -> np.ndarray:
    """Floats (NaN where missing); unparseable cells add a reason to their row."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        # A copy: a column read from Arrow may be a read-only view, and the caller
        # blanks bad values in place.
        values = series.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        for i in np.flatnonzero(np.isinf(values)).tolist():
            reasons[i].append(f"{source} ({field}) {values[i]} is not a finite number")
            values[i] = np.nan
        return values
    values = np.full(len(series), np.nan)
    for i, cell in enumerate(series.tolist()):
        value = _parse_number(cell)
        if value is None or math.isinf(value):
            reasons[i].append(f"{source} ({field}) {_fmt(cell)} is not a number")
        else:
            values[i] = value
    return values


def _parse_number(value: Any) -> float | None:
    """The number in a cell, NaN when the cell is empty, ``None`` when it is not a number."""
    if type(value) is str:
        try:
            return float(value)  # the common case; "nan" comes back NaN, i.e. missing
        except ValueError:
            pass
    if _is_missing(value):
        return math.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range, from JSON
            return math.inf
    text = str(value).strip()
    if text.lower() in NULL_TOKENS:
        return math.nan
    text = _CURRENCY.sub("", text)
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _dates(series: pd.Series, source: str | None, reasons: list[list[str]]) -> list[str | None]:
    """ISO dates (``YYYY-MM-DD``); unreadable cells add a reason to their row."""
    if pd.api.types.is_datetime64_any_dtype(series):
        out_dt: list[str | None] = []
        for i, stamp in enumerate(series):
            text = None if pd.isna(stamp) else _iso_date(stamp)
            if text is None and not pd.isna(stamp):
                reasons[i].append(f"{source} (close_date) {stamp} is not a usable date")
            out_dt.append(text)
        return out_dt
    out: list[str | None] = []
    parsed_by_text: dict[str, str | None] = {}  # exports repeat a few hundred dates
    for i, text in enumerate(_texts(series)):
        if text is None or text.lower() in NULL_TOKENS:
            out.append(None)
            continue
        if text not in parsed_by_text:
            parsed_by_text[text] = _parse_date(text)
        parsed = parsed_by_text[text]
        if parsed is None:
            reasons[i].append(f"{source} (close_date) {text!r} is not a date")
        out.append(parsed)
    return out


def _parse_date(text: str) -> str | None:
    candidate = text[:10] if _ISO_DATE.match(text) else text
    try:
        stamp = pd.Timestamp(candidate)
    except (ValueError, TypeError, OverflowError):
        return None
    if pd.isna(stamp):
        return None
    return _iso_date(stamp)


def _iso_date(stamp: pd.Timestamp) -> str | None:
    """``YYYY-MM-DD``, or None for a year Python's dates cannot hold (before 1 or after 9999)."""
    try:
        return str(stamp.strftime("%Y-%m-%d"))
    except (ValueError, NotImplementedError, OverflowError):
        return None


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)
