"""Resolve which source columns feed the canonical id, text and metadata columns."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from topicstrata.errors import InputError
from topicstrata.io import schema
from topicstrata.io.config import IngestConfig

__all__ = ["CANONICAL_COLUMNS", "ColumnPlan", "normalize_name", "resolve_columns"]

#: Columns ingest writes first, in this order; source columns follow.
CANONICAL_COLUMNS: Final = (
    schema.ID,
    schema.TEXT,
    schema.INDUSTRY,
    schema.AMOUNT,
    schema.TERM_MONTHS,
    schema.ANNUALIZED_REVENUE,
    schema.CLOSE_DATE,
)

# Aliases in normalized form (see normalize_name); the canonical name always matches too.
_TEXT_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "opportunity_name": ("name", "opportunity", "opportunitytitle", "dealname"),
    "details": ("description", "detail", "opportunitydescription", "dealdescription"),
    "customer_needs": ("needs", "customerneed", "customerrequirements", "requirements"),
    "product_name": ("product", "productname"),
    "product_specifics": ("productspecific", "productdetails", "productdescription"),
    "product_group": ("productgroup", "productfamily", "productline", "productcategory"),
}
_META_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    schema.ID: ("opportunityid", "recordid", "uid", "identifier"),
    schema.INDUSTRY: ("accountindustry", "vertical", "sector"),
    schema.AMOUNT: ("dealamount", "dealvalue", "opportunityamount", "totalamount", "tcv"),
    schema.TERM_MONTHS: (
        "term",
        "termmonths",
        "terminmonths",
        "contractterm",
        "contracttermmonths",
        "durationmonths",
    ),
    schema.CLOSE_DATE: ("closedate", "closed", "closedat", "dateclosed"),
}


def normalize_name(name: str) -> str:
    """Compare column names case-insensitively, ignoring separators and ``__c``."""
    lowered = name.strip().lower()
    lowered = lowered.removesuffix("__c")
    return re.sub(r"[^0-9a-z]", "", lowered)


@dataclass(frozen=True)
class ColumnPlan:
    """Source column names chosen for each canonical column (``None``: absent)."""

    text: tuple[str, ...]
    id: str | None
    industry: str | None
    amount: str | None
    term: str | None
    close_date: str | None
    passthrough: tuple[str, ...]


def resolve_columns(columns: Sequence[str], config: IngestConfig, source: str) -> ColumnPlan:
    """Choose the source columns for the canonical table, or say what is missing.

    Metadata columns are consumed (renamed into their canonical column); text
    columns are kept as they are, since their separate values stay useful for
    review and segmentation. A source column named like a canonical column is
    replaced by the canonical one.
    """
    columns = [str(c) for c in columns]
    text = _resolve_text(columns, config.text_cols, source)
    meta: dict[str, str | None] = {}
    for field, explicit in (
        (schema.ID, config.id_col),
        (schema.INDUSTRY, config.industry_col),
        (schema.AMOUNT, config.amount_col),
        (schema.TERM_MONTHS, config.term_col),
        (schema.CLOSE_DATE, config.close_date_col),
    ):
        if explicit is not None:
            meta[field] = _require(columns, explicit, source, option=_OPTION[field])
        else:
            meta[field] = _find(columns, (field, *_META_ALIASES[field]), exclude=text)
    consumed = {c for c in meta.values() if c is not None} | set(CANONICAL_COLUMNS)
    passthrough = tuple(c for c in columns if c not in consumed)
    return ColumnPlan(
        text=text,
        id=meta[schema.ID],
        industry=meta[schema.INDUSTRY],
        amount=meta[schema.AMOUNT],
        term=meta[schema.TERM_MONTHS],
        close_date=meta[schema.CLOSE_DATE],
        passthrough=passthrough,
    )


_OPTION: Final = {
    schema.ID: "id_col",
    schema.INDUSTRY: "industry_col",
    schema.AMOUNT: "amount_col",
    schema.TERM_MONTHS: "term_col",
    schema.CLOSE_DATE: "close_date_col",
}


def _resolve_text(
    columns: list[str], text_cols: tuple[str, ...] | None, source: str
) -> tuple[str, ...]:
    if text_cols is not None:
        return tuple(_require(columns, c, source, option="text_cols") for c in text_cols)
    found: list[str] = []
    for field in schema.OPPORTUNITY_TEXT_FIELDS:
        col = _find(columns, (field, *_TEXT_ALIASES[field]), exclude=found)
        if col is not None:
            found.append(col)
    if found:
        return tuple(found)
    col = _find(columns, (schema.TEXT,), exclude=())
    if col is not None:
        return (col,)
    raise InputError(
        f"{source}: no text column found among {_listing(columns)}; name the columns that "
        "hold the text, e.g. text_cols=('Title', 'Text') (CLI: --text-cols Title,Text). "
        f"Defaults: {', '.join(schema.OPPORTUNITY_TEXT_FIELDS)} or 'text'."
    )


def _find(columns: list[str], names: Sequence[str], exclude: Sequence[str]) -> str | None:
    """The first column matching any of ``names``: exact name first, then normalized."""
    candidates = [c for c in columns if c not in exclude]
    for name in names:
        if name in candidates:
            return name
    by_norm: dict[str, str] = {}
    for c in candidates:
        by_norm.setdefault(normalize_name(c), c)
    for name in names:
        hit = by_norm.get(normalize_name(name))
        if hit is not None:
            return hit
    return None


def _require(columns: list[str], name: str, source: str, option: str) -> str:
    hit = _find(columns, (name,), exclude=())
    if hit is not None:
        return hit
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in columns}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), lowered, n=3)]
    hint = f"closest: {', '.join(repr(c) for c in close)}. " if close else ""
    raise InputError(
        f"{source}: column {name!r} (from {option}) not found; {hint}"
        f"Available columns: {_listing(columns)}. Fix {option} to name an existing column."
    )


def _listing(columns: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(c) for c in columns[:limit])
    more = f" ... ({len(columns) - limit} more)" if len(columns) > limit else ""
    return f"[{shown}{more}]"
