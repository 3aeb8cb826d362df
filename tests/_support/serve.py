"""Helpers of the serving tests: the fitted text fields, records as JSON payloads."""

from __future__ import annotations

import pandas as pd


def text_fields() -> list[str]:
    from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS

    return list(OPPORTUNITY_TEXT_FIELDS)


def as_payload(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Records as a client sends them: JSON scalars, nulls for missing values."""
    out = frame.astype(object).where(frame.notna(), None)
    return out.to_dict("records")
