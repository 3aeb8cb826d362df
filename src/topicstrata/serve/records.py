"""Request records to the texts the predictor embeds, exactly as ingest joins them.

``strata predict`` reads a file through ingest, which strips every text field
and joins the non-empty ones with a newline; the service does the same so a
record gets the same prediction over HTTP as in a batch file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from topicstrata.serve.problems import ProblemError
from topicstrata.serve.settings import Limits

__all__ = ["record_texts"]

#: How many offending records an error message lists.
_SHOWN = 5


def record_texts(
    records: Sequence[Mapping[str, Any]], text_fields: Sequence[str], limits: Limits
) -> tuple[list[str], list[str]]:
    """``(ids, texts)``; raises a 413 or 422 ``ProblemError`` naming what is wrong."""
    if len(records) > limits.max_records:
        raise ProblemError(
            413,
            "too-many-records",
            f"{len(records)} records in one request; the limit (max_records) is "
            f"{limits.max_records}. Split the batch.",
            title="Too many records",
            limit={"name": "max_records", "value": limits.max_records},
        )
    missing: dict[int, list[str]] = {}
    too_long: list[str] = []
    empty: list[int] = []
    ids: list[str] = []
    texts: list[str] = []
    for i, record in enumerate(records):
        absent = [f for f in text_fields if f not in record]
        if absent:
            missing[i] = absent
            continue
        parts = []
        for name in text_fields:
            value = record[name]
            text = "" if value is None else str(value)
            if len(text) > limits.max_field_chars:
                too_long.append(f"records[{i}].{name} ({len(text):,} characters)")
            text = text.strip()
            if text:
                parts.append(text)
        if not parts:
            empty.append(i)
        texts.append("\n".join(parts))
        rid = record.get("id")
        ids.append(f"row-{i + 1}" if rid is None or str(rid).strip() == "" else _id(rid))
    if missing:
        fields = sorted({f for names in missing.values() for f in names}, key=text_fields.index)
        rows = ", ".join(f"records[{i}]" for i in list(missing)[:_SHOWN])
        raise ProblemError(
            422,
            "missing-text-fields",
            f"{_count(len(missing), 'lacks', 'lack')} the text field(s) the model was fitted on: "
            f"{', '.join(fields)} ({rows}{_more(len(missing))}). Every record needs "
            f"{', '.join(text_fields)}; null or empty values are allowed.",
            title="Missing text fields",
            missing_fields=fields,
        )
    if too_long:
        raise ProblemError(
            422,
            "field-too-long",
            f"text fields over the limit (max_field_chars) of {limits.max_field_chars:,} "
            f"characters: {', '.join(too_long[:_SHOWN])}{_more(len(too_long))}.",
            title="Text field too long",
            limit={"name": "max_field_chars", "value": limits.max_field_chars},
        )
    if empty:
        raise ProblemError(
            422,
            "empty-text",
            f"{_count(len(empty), 'has', 'have')} every text field empty "
            f"({', '.join(f'records[{i}]' for i in empty[:_SHOWN])}{_more(len(empty))}); "
            "there is nothing to assign a topic from.",
            title="Empty record",
        )
    return ids, texts


def _id(value: Any) -> str:
    # Integer ids arrive as floats from some JSON encoders; ingest reads them the same way.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _count(n: int, one: str, many: str) -> str:
    """``1 record has`` / ``2 records have``: the count with its verb."""
    return f"{n} record {one}" if n == 1 else f"{n} records {many}"


def _more(n: int) -> str:
    return f" and {n - _SHOWN} more" if n > _SHOWN else ""
