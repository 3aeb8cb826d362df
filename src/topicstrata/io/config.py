"""Ingest configuration: which columns make the text, the id and the metadata."""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from topicstrata.errors import ConfigError

__all__ = ["DELIMITERS", "FORMATS", "IngestConfig"]

#: Input formats :func:`read_records` understands, by name.
FORMATS: Final = ("csv", "parquet", "jsonl", "salesforce")

#: CSV delimiters recognised when ``IngestConfig.delimiter`` is left to the sniffer.
DELIMITERS: Final = ",;\t|"

_COLUMN_OPTIONS: Final = ("id_col", "industry_col", "amount_col", "term_col", "close_date_col")


@dataclass(frozen=True)
class IngestConfig:
    """How to turn a source table into the canonical record table.

    Every ``*_col`` left as ``None`` is found automatically: the canonical name
    or a known alias, compared case-insensitively and ignoring ``_``, spaces and
    a Salesforce ``__c`` suffix (so ``Contract_Term_Months__c`` is a term
    column). A column named explicitly must exist, or reading fails with the
    closest existing names.

    Attributes:
        text_cols: Columns joined (non-empty ones, in this order, with ``"\\n"``)
            into ``text``. ``None``: the opportunity fields of
            ``schema.OPPORTUNITY_TEXT_FIELDS`` that are present, else a column
            called ``text``. A comma-separated string is accepted too.
        id_col: Record id column. ``None``: ``id`` or an alias if present, else
            ids are generated from the source row number (``"row-1"``, ...).
        industry_col, amount_col, term_col, close_date_col: Metadata columns.
        default_term_months: Term used for ``annualized_revenue`` when a row has
            none (``term_months`` itself stays missing). ``None``: no default,
            so rows without a term get no annualized revenue.
        annualize_factor: ``annualized_revenue = amount * factor / term``.
        format: One of :data:`FORMATS`; ``None`` infers it from the extension.
        encoding: Text encoding of CSV/JSONL input. ``None`` expects UTF-8 and,
            when the file is not, says which encoding it looks like.
        delimiter: CSV field delimiter, one character. ``None`` sniffs it from
            the file's first lines among ``,``, ``;``, tab and ``|`` (falling back
            to tab for ``.tsv`` and ``,`` otherwise).
        chunk_rows: Rows read and validated at a time; bounds memory use.
    """

    text_cols: tuple[str, ...] | None = None
    id_col: str | None = None
    industry_col: str | None = None
    amount_col: str | None = None
    term_col: str | None = None
    close_date_col: str | None = None
    default_term_months: float | None = 12.0
    annualize_factor: float = 12.0
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    chunk_rows: int = 50_000

    def __post_init__(self) -> None:
        if self.text_cols is not None and not isinstance(self.text_cols, str | list | tuple):
            raise ConfigError(
                f"text_cols={self.text_cols!r} must be a list of column names or a "
                "comma-separated string, e.g. text_cols=('Title', 'Text')."
            )
        for option in _COLUMN_OPTIONS:
            value = getattr(self, option)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(
                    f"{option}={value!r} must be a column name (text), or None to find "
                    "the column automatically."
                )
        for option in ("format", "encoding"):
            value = getattr(self, option)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{option}={value!r} must be text, or None for the default.")
        if self.delimiter is not None and (
            not isinstance(self.delimiter, str)
            or len(self.delimiter) != 1
            or self.delimiter in '\r\n"\x00'
        ):
            raise ConfigError(
                f"delimiter={self.delimiter!r} must be one character other than a quote or "
                "a line break, e.g. ';' or '\\t'; or None to sniff it from the file."
            )
        text_cols = _as_tuple(self.text_cols)
        if text_cols is not None and (
            not text_cols or not all(isinstance(c, str) and c for c in text_cols)
        ):
            raise ConfigError(
                f"text_cols={self.text_cols!r} must name at least one column, "
                "e.g. text_cols=('Title', 'Text'); leave it None to use the defaults."
            )
        object.__setattr__(self, "text_cols", text_cols)
        if self.format is not None and self.format not in FORMATS:
            raise ConfigError(
                f"format={self.format!r} is not supported; use one of {', '.join(FORMATS)}, "
                "or leave it None to infer it from the file extension."
            )
        if (
            not isinstance(self.chunk_rows, int)
            or isinstance(self.chunk_rows, bool)
            or self.chunk_rows < 1
        ):
            raise ConfigError(f"chunk_rows={self.chunk_rows!r} must be a positive integer.")
        if self.default_term_months is not None and not _positive(self.default_term_months):
            raise ConfigError(
                f"default_term_months={self.default_term_months!r} must be a positive number "
                "of months, or None for no default."
            )
        if not _positive(self.annualize_factor):
            raise ConfigError(
                f"annualize_factor={self.annualize_factor!r} must be a positive number "
                "(12 turns a monthly term into a yearly revenue)."
            )
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(
                    f"encoding={self.encoding!r} is not a known codec; "
                    "try 'utf-8', 'cp1252' or 'latin-1'."
                ) from None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> IngestConfig:
        """Build a config from a mapping (e.g. the ``ingest:`` section of a YAML file).

        Unknown keys are an error naming the closest valid key, so a typo never
        silently falls back to a default.
        """
        known = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    f"unknown ingest option {key!r}; {hint}valid options: {', '.join(known)}."
                )
        return cls(**values)

    def replace(self, **changes: Any) -> IngestConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Normalise a column list given as ``"a,b"`` or as a sequence."""
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(c.strip() for c in value.split(",") if c.strip())
    return tuple(value)
