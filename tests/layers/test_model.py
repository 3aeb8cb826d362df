"""LayerModel: the scikit-learn contract and recovery of planted topics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from topicstrata import ConfigError
from topicstrata.layers import LayerModel


@parametrize_with_checks([LayerModel(reducer=PCA(n_components=1), k_range=(3, 3))])
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize("global_step", ["kmeans", "ward", "ward-knn"])
def test_recovers_planted_topics(global_step):
    X, truth = make_blobs(n_samples=900, centers=6, n_features=32, cluster_std=1.0, random_state=0)
    model = LayerModel(reducer=PCA(n_components=5), k_range=(3, 9), global_step=global_step)
    model.fit(X)
    assert model.n_topics_ == 6
    assert adjusted_rand_score(truth, model.labels_) > 0.95
    # predict on the training rows agrees with the fitted labels
    assert adjusted_rand_score(model.labels_, model.predict(X)) > 0.98


def test_k_is_chosen_inside_range_and_scores_recorded():
    X, _ = make_blobs(n_samples=600, centers=4, n_features=16, random_state=1)
    model = LayerModel(reducer=PCA(n_components=4), k_range=(5, 8)).fit(X)
    assert 5 <= model.n_topics_ <= 8
    assert sorted(model.k_scores_) == [5, 6, 7, 8]


def test_topics_numbered_by_size():
    X, _ = make_blobs(n_samples=[400, 100, 250], n_features=8, cluster_std=0.5, random_state=2)
    model = LayerModel(reducer="none", k_range=(3, 3)).fit(X)
    sizes = np.bincount(model.labels_)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_same_seed_same_assignments():
    X, _ = make_blobs(n_samples=500, centers=5, n_features=16, random_state=3)
    a = LayerModel(reducer=PCA(n_components=4), k_range=(3, 7), random_state=7).fit(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_auto_threshold_bounds_subclusters_on_dense_data():
    # Many points in a small space: the default threshold would explode the CF-tree.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 5)).astype(np.float32)
    model = LayerModel(reducer="none", k_range=(4, 4), max_subclusters=500).fit(X)
    assert len(model.birch_.subcluster_centers_) <= 1000


def test_confidence_is_high_for_clean_clusters():
    X, _ = make_blobs(n_samples=300, centers=3, n_features=16, cluster_std=0.3, random_state=4)
    model = LayerModel(reducer="none", k_range=(3, 3)).fit(X)
    conf = model.confidence(X, model.labels_)
    assert conf.shape == (300,)
    assert float(np.median(conf)) > 0.9


@pytest.mark.parametrize("k_range", [(1, 3), (5, 2), ("a", 3)])
def test_bad_k_range_is_a_config_error(k_range):
    X, _ = make_blobs(n_samples=50, centers=2, n_features=4, random_state=0)
    with pytest.raises(ConfigError, match="k_range"):
        LayerModel(reducer="none", k_range=k_range).fit(X)


def test_too_few_records_names_the_fix():
    X = np.eye(4, dtype=np.float32)
    with pytest.raises(ConfigError, match="keep"):
        LayerModel(reducer="none", k_range=(5, 6)).fit(X)


def test_auto_threshold_uses_the_subcluster_budget_in_high_dimensions():
    # In high dimensions the number of subclusters falls steeply with the threshold;
    # the search must land near the budget, not far below it.
    X, _ = make_blobs(n_samples=3000, centers=6, n_features=64, cluster_std=3.0, random_state=5)
    model = LayerModel(reducer="none", k_range=(6, 6), max_subclusters=600).fit(X)
    n_sub = len(model.birch_.subcluster_centers_)
    assert 200 <= n_sub <= 1200


def test_fits_on_a_bounded_sample_and_assigns_every_row():
    X, truth = make_blobs(n_samples=3000, centers=6, n_features=16, random_state=4)
    model = LayerModel(reducer=PCA(n_components=5), k_range=(4, 8), max_fit_samples=400).fit(X)
    assert model.n_fit_samples_ == 400
    assert len(model.labels_) == 3000
    assert model.n_topics_ == 6
    assert adjusted_rand_score(truth, model.labels_) > 0.95
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_assigning_every_row_reports_progress_per_block(monkeypatch):
    import topicstrata.layers.model as layer_model
    from topicstrata._progress import reporting

    monkeypatch.setattr(layer_model, "BLOCK", 1000)
    X, _ = make_blobs(n_samples=2500, centers=4, n_features=8, random_state=1)
    events = []
    with reporting(lambda task, done, total: events.append((task, done, total))):
        LayerModel(reducer=PCA(n_components=3), k_range=(3, 5), max_fit_samples=500).fit(X)
    assert events == [
        ("assign rows", 1000, 2500),
        ("assign rows", 2000, 2500),
        ("assign rows", 2500, 2500),
    ]


def test_fit_rows_come_first_in_the_sample_the_model_learns_from():
    X, truth = make_blobs(n_samples=2000, centers=5, n_features=16, random_state=5)
    # Rows outside fit_rows are noise: a model that learned from them could not find 5 blobs.
    # With max_fit_samples=500 the sample is the 500 fit_rows and nothing else.
    noisy = X.copy()
    outside = np.arange(500, 2000)
    noisy[outside] += np.random.default_rng(0).normal(scale=30.0, size=(1500, 16))
    model = LayerModel(reducer="none", k_range=(5, 5), max_fit_samples=500)
    model.fit(noisy, fit_rows=np.arange(500))
    assert model.n_fit_samples_ == 500
    assert adjusted_rand_score(truth[:500], model.labels_[:500]) > 0.95
    with pytest.raises(ConfigError, match="fit_rows must index"):
        LayerModel(reducer="none", k_range=(2, 2)).fit(X[:50], fit_rows=[0, 60])


def test_fit_sample_is_max_fit_samples_rows_with_every_fit_row():
    """The large-input path: all teacher rows, then seeded random others up to
    ``max_fit_samples``, as many rows as a model given no fit_rows learns from."""
    model = LayerModel(max_fit_samples=300, random_state=3)
    teacher = np.arange(0, 1000, 10)  # 100 preferred rows of 1,000
    sample = model._fit_sample(1000, teacher)
    assert len(sample) == len(model._fit_sample(1000, None)) == 300
    assert np.isin(teacher, sample).all()
    assert len(np.unique(sample)) == 300 and (np.diff(sample) > 0).all()
    np.testing.assert_array_equal(sample, model._fit_sample(1000, teacher[::-1]))  # seeded
    # More preferred rows than max_fit_samples: a subset of them only.
    many = np.arange(0, 1000, 2)
    sub = model._fit_sample(1000, many)
    assert len(sub) == 300 and np.isin(sub, many).all()
    # Fewer rows than max_fit_samples: all of them, whatever fit_rows says.
    np.testing.assert_array_equal(model._fit_sample(250, [0, 5]), np.arange(250))

    X, _ = make_blobs(n_samples=1000, centers=4, n_features=8, random_state=1)
    fitted = LayerModel(reducer="none", k_range=(4, 4), max_fit_samples=300).fit(
        X, fit_rows=teacher
    )
    assert fitted.n_fit_samples_ == 300
    assert len(fitted.labels_) == 1000


def test_fit_rows_holding_the_seeded_sample_give_the_model_fitted_without_them():
    """The large-input path at scale: the teacher embeds exactly the rows layer 1 would
    draw, so the layer learns from exactly them and is the all-teacher path's model."""
    X, _ = make_blobs(n_samples=3000, centers=6, n_features=12, random_state=2)
    plain = LayerModel(reducer=PCA(n_components=4), k_range=(4, 8), max_fit_samples=800)
    plain.fit(X)
    seeded = plain._fit_sample(3000, None)
    # The teacher's rows: the seeded sample plus other rows (copies of its texts).
    extra = np.setdiff1d(np.arange(3000), seeded)[:150]
    covered = LayerModel(reducer=PCA(n_components=4), k_range=(4, 8), max_fit_samples=800)
    covered.fit(X, fit_rows=np.concatenate([extra, seeded]))
    np.testing.assert_array_equal(
        covered._fit_sample(3000, np.concatenate([extra, seeded])), seeded
    )
    np.testing.assert_array_equal(covered.labels_, plain.labels_)
    # Without the whole seeded sample among them, the preferred rows come first instead.
    partial = LayerModel(max_fit_samples=800)._fit_sample(3000, seeded[:-1])
    assert np.isin(seeded[:-1], partial).all() and len(partial) == 800
    assert not np.array_equal(partial, seeded)
