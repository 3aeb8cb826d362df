"""Save/load as one directory with a sha256 manifest."""

from __future__ import annotations

import json

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
    assert "layers/root.pkl" in files


def test_tampered_file_is_refused(tmp_path, fitted):
    save_ensemble(fitted, tmp_path / "m")
    target = tmp_path / "m" / "mapping.v1.yaml"
    target.write_text(target.read_text() + "\n# edited\n")
    with pytest.raises(ModelError, match=r"mapping\.v1\.yaml does not match its sha256"):
        load_ensemble(tmp_path / "m")


def test_missing_file_and_missing_manifest(tmp_path, fitted):
    save_ensemble(fitted, tmp_path / "m")
    (tmp_path / "m" / "layers" / "root.pkl").unlink()
    with pytest.raises(ModelError, match=r"root\.pkl is listed in the manifest but missing"):
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
    assert manifest["format_version"] == 2


def test_format_1_models_with_joblib_layers_still_load(tmp_path, data, fitted):
    # Format 1 pickled layers with joblib; such a model must keep loading unchanged.
    import joblib

    from topicstrata.ensemble.persist import _write_manifest

    model = save_ensemble(fitted, tmp_path / "m")
    meta = json.loads((model / "ensemble.json").read_text())
    for parent, name in list(meta["layers"].items()):
        old = name.replace(".pkl", ".joblib")
        joblib.dump(joblib.load(model / name), model / old)  # pickle and joblib read both
        (model / name).unlink()
        meta["layers"][parent] = old
    (model / "ensemble.json").write_text(json.dumps(meta))
    (model / "manifest.json").unlink()
    _write_manifest(model)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["format_version"] = 1
    (model / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_ensemble(model)
    pd.testing.assert_frame_equal(
        fitted.predict(data.X, data.texts), loaded.predict(data.X, data.texts)
    )
    manifest["format_version"] = 99
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="format version 99"):
        load_ensemble(model)
