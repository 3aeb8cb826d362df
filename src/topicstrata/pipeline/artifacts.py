"""Content-addressed artefact storage under ``<root>/.strata/artifacts/<sha256>/``.

Each artefact is a folder holding ``data.<ext>`` and ``meta.json``; the
folder name is the sha256 of the data file's bytes. Writes go to a temporary
folder that is renamed into place, so a killed process never leaves a
half-written artefact under a valid name; the temporary folder's name holds its
writer's process id, and the next run removes those whose writer is gone. Reads
verify the hash first: a corrupted artefact raises :class:`CorruptArtifactError`
(the runner logs it, deletes it and recomputes).

Serializers are chosen by type: numpy arrays as ``.npy`` (loaded
memory-mapped, read-only), pandas DataFrames as parquet, pydantic models and
plain JSON values (dict with string keys, list, str, number, bool, None) as
JSON, ``pathlib.Path`` as a JSON reference that embeds the hash of the file's
content (so editing a file in place changes the address), anything else with
the C pickler (protocol 5). Not joblib: its pickler is the pure-Python one, 8x
slower on fitted layer models, which are mostly small objects (BIRCH CF-tree
nodes, pynndescent indexes); artefacts written by joblib (older stores) still load.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import pickle
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topicstrata._faults import fault_point
from topicstrata.errors import WRITE_ERRNOS, PipelineError, output_error
from topicstrata.pipeline.hashing import hash_file, hash_path_content
from topicstrata.pipeline.store import pid_alive

logger = logging.getLogger(__name__)

#: In temporary folder names, so a cleanup only judges this host's writers by process id.
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]

__all__ = ["ArtifactInfo", "ArtifactStore", "CorruptArtifactError"]


class CorruptArtifactError(PipelineError):
    """An artefact's bytes no longer match its content address."""


@dataclass(frozen=True)
class ArtifactInfo:
    """Where an artefact lives and how it was written."""

    sha256: str
    serializer: str
    type_name: str
    size: int
    path: Path


def _is_json_value(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return True
    if type(value) is list:
        return all(_is_json_value(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _is_json_value(v, depth + 1) for k, v in value.items())
    return False


def _serializer_for(value: Any) -> str:
    module = type(value).__module__
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray) and not value.dtype.hasobject:
            return "npy"
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return "parquet"
    if isinstance(value, Path):
        return "path"
    if hasattr(value, "model_dump_json") and hasattr(type(value), "model_fields"):
        return "pydantic"
    if _is_json_value(value):
        return "json"
    return "pickle"


_EXT = {
    "npy": "npy",
    "parquet": "parquet",
    "json": "json",
    "pydantic": "json",
    "path": "json",
    "pickle": "pkl",
    "joblib": "joblib",  # read only: stores written before the switch to pickle
}


def _write(serializer: str, value: Any, file: Path) -> None:
    if serializer == "npy":
        import numpy as np

        np.save(file, value, allow_pickle=False)
    elif serializer == "parquet":
        value.to_parquet(file)
    elif serializer == "json":
        file.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    elif serializer == "pydantic":
        cls = type(value)
        doc = {
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "data": value.model_dump(mode="json"),
        }
        file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    elif serializer == "path":
        doc = {"path": str(value), "content_sha256": hash_path_content(value)}
        file.write_text(json.dumps(doc), encoding="utf-8")
    else:
        with file.open("wb") as fh:
            pickle.dump(value, fh, protocol=5)


def _read(serializer: str, file: Path, mmap: bool) -> Any:
    if serializer == "npy":
        import numpy as np

        return np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    if serializer == "parquet":
        import pandas as pd

        return pd.read_parquet(file)
    if serializer == "json":
        return json.loads(file.read_text(encoding="utf-8"))
    if serializer == "pydantic":
        doc = json.loads(file.read_text(encoding="utf-8"))
        module, _, qualname = doc["class"].partition(":")
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        return cls.model_validate(doc["data"])
    if serializer == "path":
        return Path(json.loads(file.read_text(encoding="utf-8"))["path"])
    if serializer == "pickle":
        with file.open("rb") as fh:
            return pickle.load(fh)  # the artefact's hash was verified before reading
    import joblib

    return joblib.load(file)


def data_file_size(path: Path) -> int:
    """Bytes of a data file once read: a Parquet file's uncompressed size (its footer
    says), any other file's size on disk."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            meta = pq.read_metadata(path)
        except (OSError, ValueError):  # unreadable: the step that reads it says so
            return path.stat().st_size
        rows = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        return max(path.stat().st_size, rows)
    return path.stat().st_size


class ArtifactStore:
    """Content-addressed store of step outputs under ``<root>/.strata/artifacts``."""

    def __init__(self, root: str | Path = ".", mmap: bool = True) -> None:
        self.root = Path(root)
        self.dir = self.root / ".strata" / "artifacts"
        self.mmap = mmap

    def path(self, sha256: str) -> Path:
        """The folder of artefact ``sha256`` (it may not exist)."""
        return self.dir / sha256

    def exists(self, sha256: str) -> bool:
        return (self.path(sha256) / "meta.json").is_file()

    def put(self, value: Any) -> ArtifactInfo:
        """Serialize ``value``, store it under its content hash and return where."""
        try:
            return self._put(value)
        except OSError as exc:
            if exc.errno not in WRITE_ERRNOS:
                raise
            raise output_error(
                "a step result to the artefact store",
                self.dir,
                exc,
                "then resume the run (`strata pipeline resume RUN`)",
            ) from exc

    def _put(self, value: Any) -> ArtifactInfo:
        self.dir.mkdir(parents=True, exist_ok=True)
        serializer = _serializer_for(value)
        tmp = Path(tempfile.mkdtemp(prefix=f"tmp-{_HOST}-{os.getpid()}-", dir=self.dir))
        try:
            data = tmp / f"data.{_EXT[serializer]}"
            try:
                _write(serializer, value, data)
            except Exception as exc:
                if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
                    raise  # the disk, not the value: no pickle fallback
                if serializer == "pickle":
                    raise PipelineError(
                        f"cannot store a {type(value).__name__} result: {exc}; "
                        "steps must return picklable values"
                    ) from exc
                logger.debug("%s serializer failed (%s); falling back to pickle", serializer, exc)
                data.unlink(missing_ok=True)
                serializer = "pickle"
                data = tmp / f"data.{_EXT[serializer]}"
                _write(serializer, value, data)
            sha = hash_file(data)
            cls = type(value)
            meta = {
                "sha256": sha,
                "serializer": serializer,
                "file": data.name,
                "type": f"{cls.__module__}.{cls.__qualname__}",
                "size": data.stat().st_size,
                "created": time.time(),
            }
            (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            fault_point("artefact-write")
            final = self.path(sha)
            if self.exists(sha) and self._intact(sha):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                if final.exists():
                    shutil.rmtree(final, ignore_errors=True)
                try:
                    os.replace(tmp, final)
                except OSError:
                    # Another process stored the same content first: identical bytes, keep theirs.
                    shutil.rmtree(tmp, ignore_errors=True)
            return self.info(sha)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def remove_stale_temporaries(self) -> int:
        """Delete the temporary folders of writers on this host that no longer run (a
        killed ``put`` leaves one behind, as large as the artefact it was writing);
        returns how many. Another live process' writes are left alone."""
        removed = 0
        for folder in self.dir.glob(f"tmp-{_HOST}-*-*") if self.dir.is_dir() else []:
            pid = folder.name.split("-")[2]
            if pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        if removed:
            logger.info("removed %d temporary artefact folder(s) of killed runs", removed)
        return removed

    def _meta(self, sha256: str) -> dict[str, Any]:
        meta_file = self.path(sha256) / "meta.json"
        try:
            meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PipelineError(f"artefact {sha256[:12]} not found under {self.dir}") from None
        except ValueError as exc:
            raise CorruptArtifactError(f"artefact {sha256[:12]}: unreadable meta.json") from exc
        return meta

    def info(self, sha256: str) -> ArtifactInfo:
        meta = self._meta(sha256)
        return ArtifactInfo(
            sha256=sha256,
            serializer=meta["serializer"],
            type_name=meta["type"],
            size=int(meta["size"]),
            path=self.path(sha256) / meta["file"],
        )

    def loaded_size(self, sha256: str) -> int:
        """About how many bytes the artefact takes once loaded: for a Parquet table its
        uncompressed size (from the file's footer), for a path the size of the data file
        it names (read by the step that takes it), else its stored size. A million
        records' table is 340 MB on disk and 1 GB uncompressed (2 GB as a DataFrame)."""
        info = self.info(sha256)
        if info.serializer == "parquet":
            return max(info.size, data_file_size(info.path))
        if info.serializer == "path":
            named = Path(json.loads(info.path.read_text(encoding="utf-8"))["path"])
            return data_file_size(named) if named.is_file() else info.size
        return info.size

    def _intact(self, sha256: str) -> bool:
        try:
            info = self.info(sha256)
            return info.path.is_file() and hash_file(info.path) == sha256
        except PipelineError:
            return False

    def verify(self, sha256: str) -> None:
        """Raise CorruptArtifactError unless the stored bytes hash to ``sha256``."""
        info = self.info(sha256)
        if not info.path.is_file():
            raise CorruptArtifactError(f"artefact {sha256[:12]}: data file missing")
        actual = hash_file(info.path)
        if actual != sha256:
            raise CorruptArtifactError(
                f"artefact {sha256[:12]} is corrupted (its bytes hash to {actual[:12]})"
            )

    def get(self, sha256: str, verify: bool = True) -> Any:
        """Load artefact ``sha256``, checking its hash first unless ``verify`` is false."""
        if verify:
            self.verify(sha256)
        info = self.info(sha256)
        return _read(info.serializer, info.path, self.mmap)

    def delete(self, sha256: str) -> None:
        shutil.rmtree(self.path(sha256), ignore_errors=True)

    def is_usable(self, sha256: str) -> bool:
        """Exists and verifies; a corrupted artefact is logged and deleted."""
        if not self.exists(sha256):
            return False
        try:
            self.verify(sha256)
        except CorruptArtifactError as exc:
            logger.warning("%s; deleting it so it is recomputed", exc)
            self.delete(sha256)
            return False
        return True
