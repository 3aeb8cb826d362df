"""Write tables as Parquet, CSV or JSON Lines, atomically."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pandas as pd

from topicstrata.errors import ConfigError

__all__ = ["WRITE_FORMATS", "atomic_path", "write_table"]

logger = logging.getLogger(__name__)

#: Output extensions :func:`write_table` understands, and the format of each.
WRITE_FORMATS: Final = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl"}


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path``, renamed onto it only if the block succeeds.

    Readers (and a resumed pipeline) then never see a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


#: Rows per Parquet row group: a reader that wants a few records (the studio's topic page
#: reads 5 texts of a million) decompresses only the groups that hold them; files grow ~2%.
PARQUET_ROW_GROUP = 16_384


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write ``df`` without its index; the format comes from the extension unless given.

    Parquet keeps column types; CSV and JSON Lines are UTF-8, with missing
    values as empty cells and ``null`` respectively.
    """
    target = Path(path)
    fmt = format or WRITE_FORMATS.get(target.suffix.lower())
    if fmt not in WRITE_FORMATS.values():
        raise ConfigError(
            f"{target.name}: cannot write format {format or target.suffix or '(no extension)'!r}; "
            f"use a path ending in {', '.join(WRITE_FORMATS)} or pass format= one of "
            f"{', '.join(WRITE_FORMATS.values())}."
        )
    with atomic_path(target) as tmp:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False, row_group_size=PARQUET_ROW_GROUP)
        elif fmt == "csv":
            df.to_csv(tmp, index=False, encoding="utf-8")
        else:
            df.to_json(tmp, orient="records", lines=True, force_ascii=False, date_format="iso")
    logger.info("wrote %d rows to %s", len(df), target)
    return target
