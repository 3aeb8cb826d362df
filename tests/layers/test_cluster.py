"""The k search cuts one Ward tree at every k: the cuts equal a fit per k."""

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import kneighbors_graph

from topicstrata.layers.cluster import NEAREST_BLOCK, fit_birch, global_steps, nearest_subcluster


@pytest.mark.parametrize("method", ["ward", "ward-knn"])
def test_one_tree_cut_equals_a_fit_per_k(method):
    centers, _ = make_blobs(n_samples=300, centers=8, n_features=5, random_state=1)
    ks = list(range(2, 16))
    cuts = global_steps(centers, np.ones(len(centers)), ks, method)
    for k in ks:
        connectivity = (
            kneighbors_graph(centers, n_neighbors=10, include_self=False)
            if method == "ward-knn"
            else None
        )
        expected = (
            AgglomerativeClustering(n_clusters=k, linkage="ward", connectivity=connectivity)
            .fit(centers)
            .labels_
        )
        assert len(np.unique(cuts[k])) == k
        assert adjusted_rand_score(expected, cuts[k]) == pytest.approx(1.0)


def test_k_at_or_above_the_number_of_centers_keeps_every_center():
    centers = np.random.default_rng(0).normal(size=(5, 3))
    cuts = global_steps(centers, np.ones(5), [3, 5, 7], "ward")
    assert sorted(cuts[5]) == list(range(5))
    assert sorted(cuts[7]) == list(range(5))
    assert len(np.unique(cuts[3])) == 3


@pytest.mark.parametrize("n_rows", [1, 7, NEAREST_BLOCK + 5])
def test_nearest_subcluster_equals_birch_predict(n_rows):
    X, _ = make_blobs(n_samples=3000, centers=12, n_features=5, random_state=0)
    birch = fit_birch(X.astype(np.float32), threshold=0.4, branching_factor=50)
    assert len(birch.subcluster_centers_) > 50  # many candidates: a real argmin
    rng = np.random.default_rng(1)
    Z = (X[rng.integers(0, len(X), n_rows)] + rng.normal(0, 0.3, (n_rows, 5))).astype(np.float32)
    np.testing.assert_array_equal(nearest_subcluster(birch, Z), birch.predict(Z))
