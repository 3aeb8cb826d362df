"""A fitted layer model as JSON and NumPy arrays, pickling only what has no such form.

A saved model's layer used to be one pickle: loading it runs whatever code the file
names. Here a ``LayerModel`` becomes three files:

- ``<name>.json``: every attribute, nested estimators by class name and attributes;
- ``<name>.npz``: every numeric array (centroids, BIRCH subcluster centres and norms,
  topic of each subcluster, sample indices, PCA components), read with
  ``allow_pickle=False``;
- ``<name>.pkl``: only a part with neither form, in practice a fitted UMAP (its state
  holds numba-compiled functions and a neighbour index).

Loading builds objects only of the classes in :data:`ALLOWED` (``cls.__new__`` and the
stored attributes, which is what unpickling a plain object does, without importing
anything a file names). A model fitted with ``reducer: pca`` or ``none`` loads with no
unpickling at all.

Written by hand because the library for this, ``skops.io``, refuses scikit-learn's
``Birch`` (skops 0.16: "Objects of type Birch are not supported yet") and cannot hold
UMAP either. BIRCH's CF-tree (``root_``, ``dummy_leaf_``: a linked graph of Python
nodes) is not saved: ``Birch.predict`` reads only the subcluster centres, their norms
and labels, so a loaded model predicts the same and cannot ``partial_fit``.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import Birch
from sklearn.decomposition import PCA

from topicstrata.errors import ModelError
from topicstrata.layers.model import LayerModel
from topicstrata.layers.reduce import IdentityReducer, SampledReducer

#: Classes a layer file may name, by the name it stores.
ALLOWED: dict[str, Any] = {
    cls.__module__ + "." + cls.__qualname__: cls
    for cls in (LayerModel, SampledReducer, IdentityReducer, Birch, PCA)
}
#: Attributes not saved, per class (see the module docstring).
SKIPPED = {Birch: ("root_", "dummy_leaf_")}


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.pickled: dict[str, Any] = {}

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.generic) and value.dtype.kind in "biufc":
            return {"__scalar__": value.dtype.str, "value": value.item()}
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            return {"__array__": key}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {
                "__items__": [
                    [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        cls = type(value)
        name = cls.__module__ + "." + cls.__qualname__
        if ALLOWED.get(name) is cls:
            skipped = SKIPPED.get(cls, ())
            state = {
                attr: self.encode(v, f"{where}.{attr}")
                for attr, v in vars(value).items()
                if attr not in skipped
            }
            return {"__object__": name, "state": state}
        key = f"p{len(self.pickled)}"
        self.pickled[key] = value
        return {"__pickle__": key}


def save_layer(model: Any, stem: Path) -> list[Path]:
    """Write ``model`` as ``stem.json`` (+ ``stem.npz``, + ``stem.pkl`` for the parts
    without a plain form); returns the files written."""
    writer = _Writer()
    doc = {"state": writer.encode(model, "model")}
    files = [_file(stem, ".json")]
    if writer.arrays:
        files.append(_file(stem, ".npz"))
        with files[-1].open("wb") as fh:
            np.savez(fh, allow_pickle=False, **writer.arrays)
    if writer.pickled:
        files.append(_file(stem, ".pkl"))
        with files[-1].open("wb") as fh:
            pickle.dump(writer.pickled, fh, protocol=5)
    files[0].write_text(json.dumps(doc), encoding="utf-8")
    return files


def _file(stem: Path, suffix: str) -> Path:
    # Not with_suffix: a topic path such as "3.1" is all stem.
    return stem.with_name(stem.name + suffix)


def load_layer(path: Path) -> Any:
    """Read a layer written by :func:`save_layer` (``path`` is its ``.json``). The
    caller verifies the files against the model's manifest first."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    stem = path.with_name(path.name.removesuffix(".json"))
    arrays: dict[str, np.ndarray] = {}
    npz = _file(stem, ".npz")
    if npz.is_file():
        with np.load(npz, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    pickled: dict[str, Any] = {}
    pkl = _file(stem, ".pkl")
    if pkl.is_file():
        with pkl.open("rb") as fh:
            pickled = pickle.load(fh)  # the manifest was verified first
    return _decode(doc["state"], arrays, pickled, path)


def _decode(value: Any, arrays: dict[str, Any], pickled: dict[str, Any], path: Path) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays, pickled, path) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__scalar__" in value:
        return np.dtype(value["__scalar__"]).type(value["value"])
    if "__tuple__" in value:
        return tuple(_decode(v, arrays, pickled, path) for v in value["__tuple__"])
    if "__items__" in value:
        return {
            _decode(k, arrays, pickled, path): _decode(v, arrays, pickled, path)
            for k, v in value["__items__"]
        }
    if "__pickle__" in value:
        return pickled[value["__pickle__"]]
    cls = ALLOWED.get(value.get("__object__", ""))
    if cls is None:
        raise ModelError(
            f"{path}: names a class this version does not load ({value.get('__object__')!r}); "
            "refit with this version of topicstrata."
        )
    obj = cls.__new__(cls)
    obj.__dict__.update({k: _decode(v, arrays, pickled, path) for k, v in value["state"].items()})
    return obj
