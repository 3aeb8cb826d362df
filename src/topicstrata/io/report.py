"""The row report: what happened to every input row, so none is silently lost."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pandas as pd

from topicstrata.io.writers import atomic_path

__all__ = [
    "DUPLICATE_ID",
    "EMPTY_TEXT",
    "INVALID",
    "OK",
    "REJECTED_COLUMNS",
    "STATUSES",
    "RowReport",
]

logger = logging.getLogger(__name__)

OK: Final = "ok"
EMPTY_TEXT: Final = "empty_text"
INVALID: Final = "invalid"
DUPLICATE_ID: Final = "duplicate_id"
#: Every status a row can end with; all but ``ok`` mean rejected.
STATUSES: Final = (OK, EMPTY_TEXT, INVALID, DUPLICATE_ID)

#: Columns of :attr:`RowReport.rejected` and ``rejected_rows.csv``.
REJECTED_COLUMNS: Final = ("row", "line", "id", "status", "reason")

REPORT_FILE: Final = "row_report.json"
REJECTED_FILE: Final = "rejected_rows.csv"


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.Series(dtype="int64"),
            "line": pd.Series(dtype="Int64"),
            "id": pd.Series(dtype=object),
            "status": pd.Series(dtype=object),
            "reason": pd.Series(dtype=object),
        }
    )


@dataclass
class RowReport:
    """Counts per status and the rejected rows of one ingest.

    ``rows_in == ok + rejected`` always holds. Each rejected row keeps its
    1-based source ``row`` (data records; a CSV header is not counted), its
    physical ``line`` where the format has one (JSONL), its ``id`` (if any),
    ``status`` and a human-readable ``reason``.
    """

    source: str
    format: str
    rows_in: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    _parts: list[pd.DataFrame] = field(default_factory=list, repr=False)

    @property
    def rejected(self) -> pd.DataFrame:
        """One row per rejected input row, in source order (columns: REJECTED_COLUMNS)."""
        if not self._parts:
            return _empty_rejected()
        if len(self._parts) > 1:
            self._parts = [pd.concat(self._parts, ignore_index=True)]
        return self._parts[0]

    @property
    def ok(self) -> int:
        """Rows accepted into the table."""
        return self.counts[OK]

    @property
    def n_rejected(self) -> int:
        """Rows rejected, for any reason."""
        return self.rows_in - self.ok

    def add(self, rows: int, ok: int, rejected: pd.DataFrame) -> None:
        """Account for one validated chunk of ``rows`` rows."""
        if ok + len(rejected) != rows:
            raise AssertionError(f"chunk of {rows} rows: {ok} ok + {len(rejected)} rejected")
        self.rows_in += rows
        self.counts[OK] += ok
        for status, count in rejected["status"].value_counts().items():
            self.counts[str(status)] += int(count)
        if len(rejected):
            self._parts.append(rejected)

    def summary(self) -> dict[str, int | str]:
        """Counts for display: source, format, rows_in, ok, rejected and one per status."""
        return {
            "source": self.source,
            "format": self.format,
            "rows_in": self.rows_in,
            "ok": self.ok,
            "rejected": self.n_rejected,
            **{status: self.counts[status] for status in STATUSES if status != OK},
        }

    def write(self, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``row_report.json`` (the summary) and ``rejected_rows.csv`` into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        report_path = out / REPORT_FILE
        rejected_path = out / REJECTED_FILE
        _atomic_write(report_path, json.dumps(self.summary(), indent=2) + "\n")
        _atomic_write(rejected_path, self.rejected.to_csv(index=False))
        logger.info("wrote %s and %s", report_path, rejected_path)
        return report_path, rejected_path


def _atomic_write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
