"""Read a run directory for the pages: only the columns a page needs, cached by mtime.

A run's directory is its ``output`` parameter (relative paths are looked up
under the studio root, then the working directory). Parquet is read with
column projection, so a page over a million records loads a few columns,
never the texts of every record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from topicstrata.errors import MappingError
from topicstrata.mapping import Mapping, load_mapping
from topicstrata.pipeline.store import RunRecord
from topicstrata.run.outputs import ASSIGNMENTS, HIERARCHY, TOPICS, VIEWS
from topicstrata.studio.errors import StudioError, bad_param

__all__ = [
    "MAPPING_FILE",
    "RunDir",
    "locate_run_dir",
    "mapping_files",
    "output_folder",
    "read_run_mapping",
]

#: A mapping file's plain name: ``mapping.v1.yaml`` (a finished run's), ``mapping.v1.draft.yaml``
#: (the model's draft), ``mapping.v1.r2.yaml`` (the studio's saved versions), or another tag.
MAPPING_FILE = re.compile(r"mapping\.v(?P<layer>\d+)(?:\.(?P<tag>[A-Za-z0-9_-]+))?\.yaml")
#: Bounded: each entry is a few columns of one run directory.
_CACHE_ENTRIES = 16


def _output_candidates(root: Path, run: RunRecord) -> list[Path]:
    output = str(run.parameters.get("output") or "")
    if not output:
        raise StudioError(
            404,
            f"run {run.run_id} has no run directory",
            "its pipeline has no `output` parameter, so there is no topic tree to show.",
        )
    return [Path(output)] if Path(output).is_absolute() else [root / output, Path(output)]


def output_folder(root: Path, run: RunRecord) -> Path:
    """The run's ``output`` folder whatever it holds yet (a run waiting for its first review
    has only its draft mapping there); 404 if there is none."""
    candidates = _output_candidates(root, run)
    for path in candidates:
        if path.is_dir():
            return path
    raise StudioError(
        404,
        f"no output folder for run {run.run_id}",
        f"{' or '.join(str(p) for p in candidates)} does not exist; it may have been moved.",
    )


def mapping_files(folder: Path) -> list[str]:
    """The mapping files of a run folder in version order: by layer, then the draft, the
    saved versions r2, r3..., any other tag, and the final ``mapping.vN.yaml`` last."""
    found = [p.name for p in folder.glob("mapping.v*.yaml") if MAPPING_FILE.fullmatch(p.name)]
    return sorted(found, key=_version_key)


def _version_key(name: str) -> tuple[int, int, str]:
    match = MAPPING_FILE.fullmatch(name)
    assert match is not None
    tag = match.group("tag")
    if tag is None:
        rank = 10**9
    elif tag == "draft":
        rank = 1
    elif re.fullmatch(r"r\d+", tag):
        rank = int(tag[1:])
    else:
        rank = 10**8
    return int(match.group("layer")), rank, name


def read_run_mapping(path: Path, run_id: str) -> Mapping:
    """One of a run's mapping files; one that does not load is a 422 page naming it."""
    try:
        return load_mapping(path)
    except MappingError as exc:
        raise StudioError(
            422,
            f"{path.name} of run {run_id} is not a valid mapping file",
            f"{exc}. Fix the file (or pick another version) and reload.",
        ) from None


def locate_run_dir(root: Path, run: RunRecord) -> Path:
    """The run's directory, or 404 naming where it was looked for and why it may be missing."""
    candidates = _output_candidates(root, run)
    for path in candidates:
        if (path / ASSIGNMENTS).is_file():
            return path
    where = " or ".join(str(p) for p in candidates)
    if run.status == "waiting":
        why = "the run is waiting for a review and has not written its results yet"
        todo = f"review and resume it (`strata pipeline resume {run.run_id}`)"
    elif run.status in ("running",):
        why, todo = "the run is still running", "come back when it has finished"
    else:
        why = f"the run's status is {run.status}"
        todo = f"check that {where} was not moved or deleted, or resume the run"
    raise StudioError(404, f"no {ASSIGNMENTS} for run {run.run_id}", f"{why}; {todo}.")


@lru_cache(maxsize=_CACHE_ENTRIES)
def _read(path: str, mtime_ns: int, columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.read_parquet(path, columns=list(columns))


@dataclass(frozen=True)
class RunDir:
    """The files of one run directory, read on demand."""

    path: Path

    def _parquet(self, name: str, columns: list[str]) -> pd.DataFrame:
        file = self.path / name
        frame = _read(str(file), file.stat().st_mtime_ns, tuple(columns))
        return frame.copy()

    def assignment_columns(self) -> list[str]:
        return list(pq.read_schema(self.path / ASSIGNMENTS).names)

    @property
    def depth(self) -> int:
        """Number of levels (``path_l1``, ``path_l2``...) in the assignments."""
        return sum(1 for c in self.assignment_columns() if c.startswith("path_l"))

    def check_level(self, level: int) -> int:
        if not 1 <= level <= self.depth:
            raise bad_param(
                "level", level, f"this run has levels 1 to {self.depth}; pick one of them."
            )
        return level

    def assignments(self, columns: list[str]) -> pd.DataFrame:
        """Only ``columns`` of ``assignments.parquet`` (those the file has)."""
        have = set(self.assignment_columns())
        return self._parquet(ASSIGNMENTS, [c for c in columns if c in have])

    def topics(self) -> pd.DataFrame:
        """Topic descriptions: keywords with weights, phrases, representatives, flags."""
        cols = [
            "path",
            "final_path",
            "level",
            "label",
            "keywords",
            "keyword_scores",
            "phrases",
            "representative_ids",
            "flags",
            "coherence",
            "action",
        ]
        have = set(pq.read_schema(self.path / TOPICS).names)
        return self._parquet(TOPICS, [c for c in cols if c in have])

    def labels(self) -> dict[str, str]:
        """Label of every topic path of the final tree (after the mapping)."""
        file = self.path / HIERARCHY
        if not file.is_file():
            return {}
        labels: dict[str, str] = {}

        def walk(nodes: list[dict[str, Any]]) -> None:
            for node in nodes:
                labels[str(node["path"])] = str(node.get("label") or node["path"])
                walk(node.get("children") or [])

        walk(json.loads(file.read_text(encoding="utf-8")).get("topics", []))
        return labels

    def record_texts(self, ids: list[str]) -> dict[str, str]:
        """The cleaned text of a few records: only the row groups of ``views.parquet`` that
        hold them are read (a 1M-record file is ~250 MB of texts; a filter on ``id``
        alone would still decompress every row group)."""
        file = self.path / VIEWS
        if not ids or not file.is_file():
            return {}
        # The id column alone is cached (by mtime) like every other frame.
        known = _read(str(file), file.stat().st_mtime_ns, ("id",))["id"]
        rows = np.flatnonzero(known.isin(ids).to_numpy())
        parquet = pq.ParquetFile(file)
        sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
        starts = np.cumsum([0, *sizes])
        groups = sorted({int(g) for g in np.searchsorted(starts, rows, side="right") - 1})
        if not groups:
            return {}
        table = parquet.read_row_groups(groups, columns=["id", "embed_text"])
        table = table.filter(pc.is_in(table["id"], value_set=pa.array(ids).cast(table["id"].type)))
        return dict(zip(table["id"].to_pylist(), table["embed_text"].to_pylist(), strict=True))
