"""The reducer: exact neighbours for UMAP on small fits, sampled fits, blockwise transform."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score
from sklearn.neighbors import NearestNeighbors

from topicstrata.errors import ConfigError
from topicstrata.layers import reduce
from topicstrata.layers.reduce import ExactNeighbors, SampledReducer, make_reducer


def _blobs(n: int, k: int, dim: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points around ``k`` fixed centers (the same for every ``seed``)."""
    centers = np.random.default_rng(1234).normal(size=(k, dim)) * 3.0
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    return (centers[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_neighbors_match_scikit_learn(metric: str) -> None:
    data, _ = _blobs(500, 4)
    queries, _ = _blobs(300, 4, seed=1)
    index = ExactNeighbors(data, metric)
    got_idx, got_dist = index.query(queries, 7)
    want_dist, want_idx = (
        NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute")
        .fit(data)
        .kneighbors(queries)
    )
    assert got_idx.dtype == np.int32 and got_dist.dtype == np.float32
    np.testing.assert_allclose(got_dist, want_dist, rtol=1e-4, atol=1e-4)
    # Same neighbour sets (ties aside, which random data does not have).
    assert all(set(a) == set(b) for a, b in zip(got_idx, want_idx, strict=True))
    # Nearest first, as UMAP expects.
    assert np.all(np.diff(got_dist, axis=1) >= -1e-6)


def test_exact_neighbors_of_the_training_rows_start_with_the_row_itself() -> None:
    data, _ = _blobs(200, 3)
    idx, dist = ExactNeighbors(data, "cosine").query(data, 5)
    assert np.array_equal(idx[:, 0], np.arange(200))
    assert np.allclose(dist[:, 0], 0.0, atol=1e-5)


def test_exact_neighbors_reject_other_metrics() -> None:
    with pytest.raises(ConfigError, match="cosine and euclidean"):
        ExactNeighbors(np.zeros((3, 2)), "manhattan")


def test_small_umap_fit_uses_exact_neighbours_and_transforms_new_rows() -> None:
    """A UMAP layer reducer on a few hundred rows learns an exact graph (no NN-descent)
    and places unseen rows with their own clusters."""
    X, _ = _blobs(600, 3)
    new, new_y = _blobs(300, 3, seed=7)  # unseen rows around the same centers
    reducer = SampledReducer(make_reducer("umap", n_neighbors=10), max_fit_samples=400)
    reducer.fit(X)
    assert isinstance(reducer.reducer_._knn_search_index, ExactNeighbors)
    assert len(reducer.sample_idx_) == 400
    Z = reducer.transform(new)
    assert Z.shape == (300, 5)
    found = KMeans(3, n_init=3, random_state=0).fit_predict(Z)
    assert normalized_mutual_info_score(new_y, found) > 0.95


def test_large_fits_keep_pynndescent(monkeypatch: pytest.MonkeyPatch) -> None:
    X, _ = _blobs(300, 3)
    monkeypatch.setattr(reduce, "EXACT_NEIGHBORS_MAX_ROWS", 200)
    umap = make_reducer("umap")
    reduce.exact_umap_graph(umap, X)
    assert umap.get_params()["precomputed_knn"][0] is None
    monkeypatch.setattr(reduce, "EXACT_NEIGHBORS_MAX_ROWS", 300)
    reduce.exact_umap_graph(umap, X)
    indices, dists, index = umap.get_params()["precomputed_knn"]
    assert indices.shape == dists.shape == (300, 15) and isinstance(index, ExactNeighbors)


def test_vectorized_transform_init_matches_umaps_loop() -> None:
    """The placement of new points before UMAP's transform-time optimisation: the same
    as UMAP's own per-row loop, including exact (weight 1) neighbours and empty rows."""
    import scipy.sparse as sp
    import umap.umap_ as umap_module

    rng = np.random.default_rng(0)
    n, m, k = 2_000, 300, 15
    rows = np.repeat(np.arange(n), k)
    vals = rng.random(n * k).astype(np.float32)
    vals[rng.random(n * k) < 0.02] = 1.0  # some rows meet a training point exactly
    graph = sp.coo_matrix((vals, (rows, rng.integers(0, m, n * k))), shape=(n, m)).tocsr()
    graph.data[graph.indptr[5] : graph.indptr[8]] = 0  # three rows without neighbours
    graph.eliminate_zeros()
    embedding = rng.normal(size=(m, 5)).astype(np.float32)
    want = umap_module.init_graph_transform(graph, embedding)
    got = reduce.init_graph_transform(graph, embedding)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got[5:8]).all()
    np.testing.assert_allclose(got, want, atol=1e-5)
    # Patched only while a SampledReducer transforms.
    assert umap_module.init_graph_transform is not reduce.init_graph_transform
