"""Save and load an ``Ensemble`` as one self-contained directory.

Layout::

    model/
      manifest.json          format version, package version, sha256 of every file
      ensemble.json          config, topic tree, list of layer models
      layers/root.json       the layer-1 LayerModel: attributes (ensemble/state.py),
      layers/root.npz          its arrays (read with allow_pickle=False),
      layers/root.pkl          and its fitted UMAP, the one part pickled
      layers/<path>.*        the LayerModel that split topic <path>
      mapping.v<N>.yaml      the mapping applied after each layer

The directory is written next to its destination and renamed into place, so
a crash never leaves a half-written model. Loading checks every file against
the manifest first. A fitted UMAP is pickled (protocol 5), so a model fitted with
the default UMAP reducer is only as safe as its source: load models only from sources
you trust (docs/security.md). Everything else is JSON and NumPy arrays.

Why ``pickle`` and not ``joblib.dump`` for what is pickled: joblib's pickler subclasses
the pure-Python ``pickle._Pickler``, and a fitted UMAP is mostly small Python objects
(pynndescent's index), not a few big arrays; on a 50,000-record, 3-layer model (59 layer
files, 328 MB) joblib took 15.7 s to write them and the C pickler 1.8 s.
Format 2 models (one ``.pkl`` per layer) and format 1 (``.joblib``) still load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import joblib

from topicstrata.ensemble.config import EnsembleConfig
from topicstrata.ensemble.model import ROOT, Ensemble
from topicstrata.ensemble.state import load_layer, save_layer
from topicstrata.ensemble.tree import TopicTree
from topicstrata.errors import ModelError
from topicstrata.mapping import dump_mapping, load_mapping

FORMAT_VERSION = 3
#: Formats this version reads: 1 pickled layers with joblib, 2 with pickle, 3 as
#: JSON + arrays (+ a pickle of what has no plain form).
READABLE_FORMATS = (1, 2, 3)
MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_ensemble(
    ensemble: Ensemble,
    directory: str | Path,
    *,
    extra_json: dict[str, Any] | None = None,
    extra_objects: dict[str, Any] | None = None,
) -> Path:
    """Write a fitted ensemble to ``directory`` (replaced if it exists).

    ``extra_json`` (file name -> JSON-able data) and ``extra_objects`` (file
    name -> object with a ``save(path)`` method) travel in the same directory
    and are covered by the manifest.
    """
    ensemble._check_fitted()
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (tmp / "layers").mkdir()
        layer_files = {}
        for parent, model in ensemble.models_.items():
            stem = f"layers/{'root' if parent == ROOT else parent}"
            save_layer(model, tmp / stem)
            layer_files[parent] = f"{stem}.json"
        mapping_files = []
        for mapping in ensemble.mappings_:
            name = f"mapping.v{mapping.version}.yaml"
            dump_mapping(mapping, tmp / name)
            mapping_files.append(name)
        meta = {
            "config": ensemble.config_.model_dump(mode="json"),
            "tree": ensemble.tree_.to_records(),
            "layers": layer_files,
            "mappings": mapping_files,
        }
        (tmp / "ensemble.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        for name, data in (extra_json or {}).items():
            (tmp / name).write_text(json.dumps(data, indent=1), encoding="utf-8")
        for name, obj in (extra_objects or {}).items():
            obj.save(tmp / name)
        _write_manifest(tmp)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _swap_in(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``: the old one is renamed aside (so readers see
    the old model or the new one, never none or a mix) and then deleted."""
    for _ in range(100):
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            with contextlib.suppress(FileNotFoundError):  # another writer moved it first
                os.replace(target, old / target.name)
        try:
            os.replace(new, target)
            return
        except OSError:
            if not target.exists():
                raise
            # Another writer put its model there between the two renames: go again.
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    raise ModelError(f"cannot replace {target}: other processes keep writing it.")


def _write_manifest(directory: Path) -> None:
    from topicstrata._version import __version__

    files = {
        str(p.relative_to(directory)): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {"format_version": FORMAT_VERSION, "topicstrata": __version__, "files": files}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def verify_manifest(directory: str | Path) -> dict[str, str]:
    """Check every file of a saved model against its manifest; returns the file hashes."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ModelError(
            f"{directory} is not a saved topicstrata model: {MANIFEST} is missing. "
            "Point to the model/ folder of a run directory."
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: dict[str, str] = manifest["files"]
    except (ValueError, KeyError) as exc:
        raise ModelError(
            f"{manifest_path}: unreadable manifest ({exc}); re-save the model."
        ) from None
    if manifest.get("format_version") not in READABLE_FORMATS:
        raise ModelError(
            f"{manifest_path}: format version {manifest.get('format_version')} is not one "
            f"this version reads ({', '.join(map(str, READABLE_FORMATS))}); refit with this "
            "version of topicstrata."
        )
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise ModelError(f"{directory}: {name} is listed in the manifest but missing.")
        if sha256_file(path) != expected:
            raise ModelError(
                f"{directory}: {name} does not match its sha256 in {MANIFEST}; the model was "
                "modified or corrupted. Restore it or refit (mapping edits belong in the run "
                "directory's mapping file, passed to `strata fit --mapping`)."
            )
    extra = (
        {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}
        - set(files)
        - {MANIFEST}
    )
    if extra:
        raise ModelError(f"{directory}: files not in the manifest: {', '.join(sorted(extra))}.")
    return files


#: How often a load starts again when the model folder was replaced while it read.
LOAD_TRIES = 20


def load_ensemble(directory: str | Path) -> Ensemble:
    """Load a model saved by ``save_ensemble`` after verifying its manifest.

    A save replaces the folder with two renames (old aside, new in): a load that
    overlaps them finds files gone or the folder briefly absent. It then starts again
    on the folder now in place, so it returns the old model or the new one; a file
    missing from a folder nobody replaced is an error at once."""
    directory = Path(directory)
    for attempt in range(LOAD_TRIES):
        before = _identity(directory)
        try:
            ensemble = _load(directory)
        except Exception:
            replaced = before is None or _identity(directory) != before
            if not replaced or attempt == LOAD_TRIES - 1:
                raise
        else:
            if _identity(directory) == before:  # not replaced while read: one model
                return ensemble
        time.sleep(0.01 * (attempt + 1))
    raise ModelError(f"cannot load {directory}: other processes keep replacing it.")


def _identity(directory: Path) -> tuple[int, int] | None:
    try:
        st = directory.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _load(directory: Path) -> Ensemble:
    verify_manifest(directory)
    meta = json.loads((directory / "ensemble.json").read_text(encoding="utf-8"))
    config = EnsembleConfig.model_validate(meta["config"])
    ensemble = Ensemble(config)
    ensemble.config_ = config
    ensemble.tree_ = TopicTree.from_records(meta["tree"])
    ensemble.models_ = {
        parent: _load_layer(directory / name) for parent, name in meta["layers"].items()
    }
    ensemble.mappings_ = [load_mapping(directory / name) for name in meta["mappings"]]
    ensemble.ids_ = []
    return ensemble


def _load_layer(path: Path) -> Any:
    if path.suffix == ".json":  # format 3
        return load_layer(path)
    if path.suffix == ".joblib":  # format 1
        return joblib.load(path)
    with path.open("rb") as fh:  # format 2
        return pickle.load(fh)  # the manifest was verified first
