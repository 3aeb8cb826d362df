"""``RunDir.record_texts`` reads only the row groups of views.parquet that hold the ids."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from topicstrata.io import write_table
from topicstrata.io.writers import PARQUET_ROW_GROUP
from topicstrata.studio.rundir import RunDir


def test_record_texts_reads_only_the_groups_holding_the_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"R{i:03d}" for i in range(100)][::-1]  # not sorted: groups are found by position
    frame = pa.table({"id": ids, "embed_text": [f"text of {i}" for i in ids], "x": range(100)})
    pq.write_table(frame, tmp_path / "views.parquet", row_group_size=10)
    read: list[list[int]] = []
    original = pq.ParquetFile.read_row_groups

    def spy(self: pq.ParquetFile, groups: list[int], **kwargs: object) -> pa.Table:
        read.append(list(groups))
        return original(self, groups, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    wanted = [ids[25], ids[71], ids[72], "NOT-THERE"]
    texts = RunDir(tmp_path).record_texts(wanted)
    assert texts == {
        ids[25]: f"text of {ids[25]}",
        ids[71]: f"text of {ids[71]}",
        ids[72]: f"text of {ids[72]}",
    }
    assert read == [[2, 7]]
    assert RunDir(tmp_path).record_texts(["NOT-THERE"]) == {}


def test_written_tables_are_split_in_row_groups(tmp_path: Path) -> None:
    rows = PARQUET_ROW_GROUP * 2 + 5
    write_table(pd.DataFrame({"id": range(rows)}), tmp_path / "t.parquet")
    meta = pq.ParquetFile(tmp_path / "t.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        PARQUET_ROW_GROUP,
        PARQUET_ROW_GROUP,
        5,
    ]
