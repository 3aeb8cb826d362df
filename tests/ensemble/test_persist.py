"""Save/load as one directory with a sha256 manifest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _support.hierarchy import make_hierarchy, pca_config
from topicstrata import ModelError
from topicstrata.ensemble import Ensemble, load_ensemble, save_ensemble, verify_manifest


@pytest.fixture(scope="module")
def data():
    return make_hierarchy(n_l1=3, n_l2=2, n_l3=2, per_leaf=25, seed=2)


@pytest.fixture(scope="module")
def fitted(data):
    return Ensemble(pca_config(layers=2)).fit(data.X, data.keywords, data.ids, data.texts)


def test_round_trip_predicts_identically(tmp_path, data, fitted):
    save_ensemble(fitted, tmp_path / "model")
    loaded = load_ensemble(tmp_path / "model")
    pd.testing.assert_frame_equal(
        fitted.predict(data.X, data.texts), loaded.predict(data.X, data.texts)
    )
    assert loaded.tree_.to_records() == fitted.tree_.to_records()
    assert [m.model_dump() for m in loaded.mappings_] == [m.model_dump() for m in fitted.mappings_]
    assert loaded.config_ == fitted.config_


def test_manifest_lists_every_file(tmp_path, fitted):
    save_ensemble(fitted, tmp_path / "m")
    files = verify_manifest(tmp_path / "m")
    on_disk = {
        str(p.relative_to(tmp_path / "m")) for p in (tmp_path / "m").rglob("*") if p.is_file()
    }
    assert set(files) | {"manifest.json"} == on_disk
    assert {"layers/root.json", "layers/root.npz"} <= set(files)


def test_tampered_file_is_refused(tmp_path, fitted):
    save_ensemble(fitted, tmp_path / "m")
    target = tmp_path / "m" / "mapping.v1.yaml"
    target.write_text(target.read_text() + "\n# edited\n")
    with pytest.raises(ModelError, match=r"mapping\.v1\.yaml does not match its sha256"):
        load_ensemble(tmp_path / "m")


def test_missing_file_and_missing_manifest(tmp_path, fitted):
    save_ensemble(fitted, tmp_path / "m")
    (tmp_path / "m" / "layers" / "root.npz").unlink()
    with pytest.raises(ModelError, match=r"root\.npz is listed in the manifest but missing"):
        load_ensemble(tmp_path / "m")
    with pytest.raises(ModelError, match=r"manifest\.json is missing"):
        load_ensemble(tmp_path)


def test_extra_file_is_refused(tmp_path, fitted):
    save_ensemble(fitted, tmp_path / "m")
    (tmp_path / "m" / "notes.txt").write_text("hi")
    with pytest.raises(ModelError, match=r"not in the manifest: notes\.txt"):
        load_ensemble(tmp_path / "m")


def test_save_replaces_atomically(tmp_path, fitted):
    save_ensemble(fitted, tmp_path / "m")
    save_ensemble(fitted, tmp_path / "m")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "m"]
    assert leftovers == []
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["format_version"] == 3


def test_a_pca_model_is_saved_without_any_pickle(tmp_path, data, fitted):
    model = save_ensemble(fitted, tmp_path / "m")
    assert not list(model.rglob("*.pkl"))
    # Loading must not unpickle anything either.
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("load_ensemble unpickled a file")

    original = pickle.load
    pickle.load = refuse
    try:
        loaded = load_ensemble(model)
    finally:
        pickle.load = original
    pd.testing.assert_frame_equal(
        fitted.predict(data.X, data.texts), loaded.predict(data.X, data.texts)
    )
    for parent, layer in fitted.models_.items():
        again = loaded.models_[parent]
        assert type(again) is type(layer)
        np.testing.assert_array_equal(again.centroids_, layer.centroids_)
        np.testing.assert_array_equal(
            again.birch_.subcluster_centers_, layer.birch_.subcluster_centers_
        )
        assert again.k_scores_ == layer.k_scores_
        assert again.get_params()["k_range"] == layer.get_params()["k_range"]


def test_a_layer_file_naming_a_class_outside_the_allow_list_is_refused(tmp_path, fitted):
    from topicstrata.ensemble.persist import _write_manifest

    model = save_ensemble(fitted, tmp_path / "m")
    doc = json.loads((model / "layers" / "root.json").read_text())
    doc["state"]["__object__"] = "os.system"
    (model / "layers" / "root.json").write_text(json.dumps(doc))
    (model / "manifest.json").unlink()
    _write_manifest(model)  # a consistent manifest: the allow-list is what refuses it
    with pytest.raises(ModelError, match="names a class this version does not load"):
        load_ensemble(model)


def test_a_fitted_umap_is_the_only_part_pickled(tmp_path):
    from topicstrata.ensemble.state import load_layer, save_layer
    from topicstrata.layers import LayerModel

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(4 * i, 1, (40, 8)) for i in range(3)]).astype(np.float32)
    layer = LayerModel(reducer="umap", n_components=2, n_neighbors=5, k_range=(2, 4)).fit(X)
    files = save_layer(layer, tmp_path / "root")
    assert [f.name for f in files] == ["root.json", "root.npz", "root.pkl"]
    import pickle

    with files[2].open("rb") as fh:
        pickled = pickle.load(fh)
    assert [type(v).__name__ for v in pickled.values()] == ["UMAP", "UMAP"]  # param + fitted
    loaded = load_layer(files[0])
    np.testing.assert_array_equal(loaded.predict(X), layer.predict(X))


@pytest.mark.parametrize("old_format", [1, 2])
def test_older_formats_with_pickled_layers_still_load(tmp_path, data, fitted, old_format):
    # Format 1 pickled each layer with joblib, format 2 with pickle; both must keep loading.
    import pickle

    import joblib

    from topicstrata.ensemble.persist import _write_manifest

    model = save_ensemble(fitted, tmp_path / "m")
    meta = json.loads((model / "ensemble.json").read_text())
    for parent, layer in fitted.models_.items():
        name = meta["layers"][parent]
        stem = name.removesuffix(".json")
        for suffix in (".json", ".npz", ".pkl"):
            (model / f"{stem}{suffix}").unlink(missing_ok=True)
        old = f"{stem}.joblib" if old_format == 1 else f"{stem}.pkl"
        if old_format == 1:
            joblib.dump(layer, model / old)
        else:
            with (model / old).open("wb") as fh:
                pickle.dump(layer, fh, protocol=5)
        meta["layers"][parent] = old
    (model / "ensemble.json").write_text(json.dumps(meta))
    (model / "manifest.json").unlink()
    _write_manifest(model)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["format_version"] = old_format
    (model / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_ensemble(model)
    pd.testing.assert_frame_equal(
        fitted.predict(data.X, data.texts), loaded.predict(data.X, data.texts)
    )
    manifest["format_version"] = 99
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="format version 99"):
        load_ensemble(model)


def test_concurrent_saves_and_loads_of_one_model_never_see_a_missing_or_mixed_model(
    tmp_path, data, fitted
):
    import threading

    target = tmp_path / "m"
    save_ensemble(fitted, target)
    errors: list[BaseException] = []

    def save() -> None:
        try:
            for _ in range(4):
                save_ensemble(fitted, target)
        except BaseException as exc:
            errors.append(exc)

    def load() -> None:
        try:
            for _ in range(8):
                load_ensemble(target)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (save, save, save, load)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    import traceback

    assert errors == [], "".join(traceback.format_exception(errors[0]))
    verify_manifest(target)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # nothing renamed aside is left
