"""Read and write record tables: CSV, Parquet, JSON Lines and Salesforce exports.

``read_records`` streams a source in chunks, validates every row and returns
the canonical table (columns in :mod:`topicstrata.io.schema`) with a
:class:`RowReport` that accounts for each input row.
"""

from __future__ import annotations

from topicstrata.io.columns import ColumnPlan
from topicstrata.io.config import FORMATS, IngestConfig
from topicstrata.io.ingest import IngestResult, read_records
from topicstrata.io.report import STATUSES, RowReport
from topicstrata.io.writers import write_table

__all__ = [
    "FORMATS",
    "STATUSES",
    "ColumnPlan",
    "IngestConfig",
    "IngestResult",
    "RowReport",
    "read_records",
    "write_table",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        _obj.__module__ = __name__
del _name, _obj
