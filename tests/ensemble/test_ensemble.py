"""The ensemble recovers a planted 3-level hierarchy, routes predictions, applies mappings."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from _support.hierarchy import make_hierarchy, pca_config
from topicstrata import InputError, ModelError
from topicstrata.ensemble import Ensemble


def _cut(paths, depth):
    return np.array([".".join(p.split(".")[:depth]) for p in paths])


@pytest.fixture(scope="module")
def hierarchy():
    return make_hierarchy()


@pytest.fixture(scope="module")
def fitted(hierarchy):
    return Ensemble(pca_config()).fit(
        hierarchy.X, hierarchy.keywords, hierarchy.ids, hierarchy.texts
    )


def test_recovers_each_level(fitted, hierarchy):
    paths = fitted.assignments_["path"].to_numpy()
    assert adjusted_rand_score(hierarchy.l1, _cut(paths, 1)) > 0.95
    assert adjusted_rand_score(hierarchy.l2, _cut(paths, 2)) > 0.9
    assert adjusted_rand_score(hierarchy.l3, _cut(paths, 3)) > 0.85


def test_every_record_has_one_leaf_path_and_label(fitted, hierarchy):
    a = fitted.assignments_
    assert len(a) == len(hierarchy.X)
    assert list(a["id"]) == hierarchy.ids
    assert a["path"].str.len().min() > 0
    assert (a["label"].str.len() > 0).all()
    assert {"path_l1", "path_l2", "path_l3", "confidence"} <= set(a.columns)


def test_keywords_name_the_planted_topic(fitted, hierarchy):
    a = fitted.assignments_
    first = a["path_l1"].iloc[0]
    node = fitted.tree_.nodes[first]
    assert node.keywords[0] == f"top{hierarchy.l1[0]}"


def test_predict_on_training_records_returns_their_paths(fitted, hierarchy):
    pred = fitted.predict(hierarchy.X[::7])
    np.testing.assert_array_equal(
        pred["path"].to_numpy(), fitted.assignments_["path"].to_numpy()[::7]
    )


def test_mappings_written_per_layer(fitted):
    assert [m.version for m in fitted.mappings_] == [1, 2, 3]
    assert {len(p.split(".")) for p in (t.path for t in fitted.mappings_[-1].topics)} == {1, 2, 3}


def test_flagged_mode_splits_only_flagged(hierarchy):
    ens = Ensemble(pca_config(mode="none")).fit(hierarchy.X, hierarchy.keywords)
    assert ens.tree_.depth == 1
    assert len(ens.models_) == 1


def test_deterministic(hierarchy):
    a = Ensemble(pca_config(layers=2)).fit(hierarchy.X, hierarchy.keywords)
    b = Ensemble(pca_config(layers=2)).fit(hierarchy.X, hierarchy.keywords)
    assert list(a.assignments_["path"]) == list(b.assignments_["path"])


def test_length_mismatch_is_clear(hierarchy):
    with pytest.raises(InputError, match="keyword_texts has 3 rows"):
        Ensemble(pca_config()).fit(hierarchy.X, hierarchy.keywords[:3])


def test_unfitted_predict_is_clear(hierarchy):
    with pytest.raises(ModelError, match="not fitted"):
        Ensemble().predict(hierarchy.X)


def test_parallel_per_topic_fits_match_sequential(hierarchy):
    sequential = pca_config(layers=2).model_copy(update={"n_jobs": 1})
    parallel = pca_config(layers=2).model_copy(update={"n_jobs": 2, "parallel_min_rows": 0})
    a = Ensemble(sequential).fit(hierarchy.X, hierarchy.keywords)
    b = Ensemble(parallel).fit(hierarchy.X, hierarchy.keywords)
    assert list(a.assignments_["path"]) == list(b.assignments_["path"])


def test_fit_rows_every_layer_learns_from_them_first_and_assigns_the_rest(hierarchy):
    n = len(hierarchy.X)
    fit_rows = np.arange(0, n, 2)
    # The other rows carry a little noise (a student's vectors stand-in): the models learn
    # from every fit row, then from others up to max_fit_samples, as without fit_rows.
    X = hierarchy.X.copy()
    X[1::2] += np.random.default_rng(0).normal(scale=0.02, size=X[1::2].shape)
    cfg = pca_config()
    cfg = cfg.model_copy(
        update={
            "layers": [layer.model_copy(update={"max_fit_samples": 600}) for layer in cfg.layers]
        }
    )
    ens = Ensemble(cfg).fit(
        X, hierarchy.keywords, hierarchy.ids, hierarchy.texts, fit_rows=fit_rows
    )
    assert ens.models_[""].n_fit_samples_ == 600  # 480 fit rows and 120 others
    # The layer 2-3 groups (240 and 80 records) are smaller: they learn from all their rows.
    assert all(m.n_fit_samples_ == min(len(m.labels_), 600) for m in ens.models_.values())
    paths = ens.assignments_["path"].to_numpy()
    assert len(paths) == n
    assert adjusted_rand_score(hierarchy.l1, _cut(paths, 1)) > 0.95
    assert adjusted_rand_score(hierarchy.l2, _cut(paths, 2)) > 0.9
    # Topic sizes count every record, not only the ones the models learned from.
    layer1 = [node for node in ens.tree_.nodes.values() if node.level == 1]
    assert sum(node.size for node in layer1) == n


def test_describe_sample_caps_each_topic_and_keeps_small_ones():
    from topicstrata.ensemble.fit import describe_sample

    labels = np.array([0] * 5000 + [1] * 40 + [2] * 960)
    rows = describe_sample(labels, 3, max_samples=900)
    counts = np.bincount(labels[rows], minlength=3)
    assert list(counts) == [300, 40, 300]
    np.testing.assert_array_equal(describe_sample(labels, 3, max_samples=10_000), np.arange(6000))


def test_worker_processes_only_when_the_models_learn_from_enough_rows():
    from topicstrata.ensemble import EnsembleConfig, LayerConfig
    from topicstrata.ensemble.fit import cluster_group, describe_group, fans_out

    config = EnsembleConfig(parallel_min_rows=1000)
    big = np.zeros((800, 4), dtype=np.float32)
    items = {"1": {"embeddings": big}, "2": {"embeddings": big}}
    assert fans_out(cluster_group, items, config)
    assert not fans_out(describe_group, items, config)  # cheap: always in process
    # Rows a model only assigns (beyond max_fit_samples) do not count: few learned rows
    # stay in process.
    layer = LayerConfig(max_fit_samples=100)
    sampled = {k: {**kw, "layer": layer} for k, kw in items.items()}
    assert not fans_out(cluster_group, sampled, config)
    wide = {k: {**kw, "layer": LayerConfig(max_fit_samples=500)} for k, kw in items.items()}
    assert fans_out(cluster_group, wide, config)
    assert not fans_out(cluster_group, {"1": items["1"]}, config)  # one group: nothing to share
