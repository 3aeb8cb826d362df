"""Dimensionality reduction for a layer: UMAP (or any transformer) fitted on a sample.

UMAP's cost grows faster than linearly and its first call compiles for tens of
seconds, so at scale it is fitted on a bounded random sample and applied to the
rest with ``transform``. ``SampledReducer`` wraps any scikit-learn transformer
that way; the wrapped estimator is a parameter so tests can pass a cheap PCA.

On the few thousand rows a layer model usually learns from, UMAP's neighbour
graph is computed exactly (:class:`ExactNeighbors`) instead of by pynndescent,
whose NN-descent compiles for ~30 s in every new process.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any, Self

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from topicstrata.errors import ConfigError

logger = logging.getLogger(__name__)

REDUCERS = ("umap", "pca", "none")

#: A UMAP fitted on at most this many rows gets its neighbour graph, and answers its
#: transform-time queries, exactly (:class:`ExactNeighbors`); above it, pynndescent.
EXACT_NEIGHBORS_MAX_ROWS = 20_000
#: Query rows per matrix product in :meth:`ExactNeighbors.query` (bounds its memory:
#: 4,096 x 20,000 float32 similarities = 328 MB at the largest).
QUERY_BLOCK = 4_096


class IdentityReducer(TransformerMixin, BaseEstimator):
    """Keep the embedding space as it is (the raw-space option of a layer)."""

    def fit(self, X: ArrayLike, y: None = None) -> Self:
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float32]:
        check_is_fitted(self)
        return np.asarray(X, dtype=np.float32)


def make_reducer(
    kind: str,
    *,
    n_components: int = 5,
    n_neighbors: int = 15,
    min_dist: float = 0.0,
    metric: str = "cosine",
    random_state: int = 0,
) -> TransformerMixin:
    """Build an unfitted reducer by name: ``umap``, ``pca`` or ``none``."""
    if kind == "umap":
        from umap import UMAP  # deferred: importing umap pulls numba

        return UMAP(
            n_components=n_components,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            metric=metric,
            random_state=random_state,
            low_memory=True,
            # Single-threaded UMAP is deterministic for a given random_state.
            n_jobs=1,
            # Below 4,096 rows UMAP would use exact neighbours, and its transform then calls
            # the numba metric from Python once per pair (new rows x training rows): a
            # child model fitted on ~1,000 rows took ~4 min to assign 120k records at 1M.
            # The NN-descent index answers those queries in seconds and keeps one code path.
            force_approximation_algorithm=True,
        )
    if kind == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=n_components, random_state=random_state)
    if kind == "none":
        return IdentityReducer()
    raise ConfigError(f"unknown reducer {kind!r}; choose one of {', '.join(REDUCERS)}.")


class ExactNeighbors:
    """Exact k nearest neighbours (cosine or euclidean) in the shape of a UMAP search index.

    Written here because no library offers this piece: UMAP takes a training graph as
    ``precomputed_knn=(indices, distances, index)`` and, at transform time, calls
    ``index.query(X, k, epsilon=...)``; pynndescent's index, the default, runs NN-descent
    whose numba code compiles for ~30 s in every new process (profiled: 27 of a 33 s fit
    of 5,000 rows), which a run pays in each worker and a demo pays before it shows
    anything. For the rows a layer model learns from (at most
    :data:`EXACT_NEIGHBORS_MAX_ROWS`), one matrix product (numpy's BLAS) and a top-k
    (torch's) per block of queries is exact and about as fast as pynndescent's query:
    100,000 queries against 8,000 rows took 8.7 s against pynndescent's 6.1 s plus its
    25 s build.
    """

    #: Read by ``UMAP.transform`` to pick an ``epsilon``, which an exact search ignores.
    _angular_trees = False

    def __init__(self, data: ArrayLike, metric: str = "cosine") -> None:
        if metric not in ("cosine", "euclidean"):
            raise ConfigError(f"ExactNeighbors supports cosine and euclidean, not {metric!r}.")
        self.metric = metric
        self.data = self._prepare(np.asarray(data, dtype=np.float32))

    def _prepare(self, X: NDArray[np.float32]) -> NDArray[np.float32]:
        if self.metric == "cosine":
            norms = np.linalg.norm(X, axis=1, keepdims=True)
            return np.ascontiguousarray(X / np.where(norms > 0, norms, 1.0), dtype=np.float32)
        return np.ascontiguousarray(X, dtype=np.float32)

    def query(
        self, X: ArrayLike, k: int, epsilon: float | None = None
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The ``k`` nearest training rows of each row of ``X``, nearest first:
        ``(indices, distances)`` as UMAP expects them (int32, float32)."""
        import torch  # deferred: a heavy import, needed only here

        queries = self._prepare(np.asarray(X, dtype=np.float32))
        k = min(k, len(self.data))
        euclidean = self.metric == "euclidean"
        sq_data = np.einsum("ij,ij->i", self.data, self.data) if euclidean else None
        indices = np.empty((len(queries), k), dtype=np.int32)
        dists = np.empty((len(queries), k), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(queries), QUERY_BLOCK):
                block = queries[start : start + QUERY_BLOCK]
                # The product in numpy (its BLAS), the top-k in torch: torch's matmul against
                # the transposed training matrix took 3.1 ms for one query row where numpy
                # takes 0.8 (20,000 x 384, 2 cores), and 590 ms for a block of 4,096 rows
                # where numpy takes 350; torch.topk is the fast partial sort numpy lacks.
                sims = torch.from_numpy(block @ self.data.T)
                if sq_data is None:  # cosine distance 1 - cos: nearest = most similar
                    top, idx = torch.topk(sims, k, dim=1)
                    dist = (1.0 - top).clamp_(min=0.0)
                else:  # squared euclidean |q|^2 + |x|^2 - 2 q.x
                    sq_block = np.einsum("ij,ij->i", block, block)[:, None]
                    sq = torch.from_numpy(sq_block + sq_data) - 2.0 * sims
                    top, idx = torch.topk(sq, k, dim=1, largest=False)
                    dist = top.clamp_(min=0.0).sqrt_()
                indices[start : start + len(block)] = idx.numpy()
                dists[start : start + len(block)] = dist.numpy()
        return indices, dists


def exact_umap_graph(reducer: Any, X: NDArray[np.float32]) -> None:
    """Give an unfitted UMAP an exact training graph and search index (see
    :class:`ExactNeighbors`) when ``X`` is small enough and the metric is supported."""
    if (
        type(reducer).__name__ != "UMAP"
        or reducer.get_params().get("precomputed_knn", (None,))[0] is not None
    ):
        return
    metric, k = reducer.metric, int(reducer.n_neighbors)
    if metric not in ("cosine", "euclidean") or not k < len(X) <= EXACT_NEIGHBORS_MAX_ROWS:
        return
    index = ExactNeighbors(X, metric)
    indices, dists = index.query(X, k)
    reducer.set_params(precomputed_knn=(indices, dists, index))


class SampledReducer(TransformerMixin, BaseEstimator):
    """Fit ``reducer`` on at most ``max_fit_samples`` random rows, transform all.

    Transforming in blocks keeps peak memory bounded on millions of rows.
    """

    def __init__(
        self,
        reducer: Any = None,
        max_fit_samples: int = 50_000,
        block_size: int = 100_000,
        random_state: int = 0,
    ) -> None:
        self.reducer = reducer
        self.max_fit_samples = max_fit_samples
        self.block_size = block_size
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: None = None) -> Self:
        X = np.asarray(X, dtype=np.float32)
        base = IdentityReducer() if self.reducer is None else self.reducer
        self.reducer_ = clone(base)
        n = len(X)
        rng = np.random.default_rng(self.random_state)
        if n > self.max_fit_samples:
            self.sample_idx_ = np.sort(rng.choice(n, self.max_fit_samples, replace=False))
            logger.info("fitting reducer on a sample of %d of %d rows", self.max_fit_samples, n)
        else:
            self.sample_idx_ = np.arange(n)
        sample = X[self.sample_idx_]
        exact_umap_graph(self.reducer_, sample)
        with warnings.catch_warnings():
            # UMAP warns that an index other than pynndescent's cannot transform; ours can.
            warnings.filterwarnings("ignore", message=r".*knn_search_index.*")
            self.reducer_.fit(sample)
        self.n_features_in_ = X.shape[1]
        return self

    def fit_transform(self, X: ArrayLike, y: None = None, **_: Any) -> NDArray[np.float32]:
        # Training rows go through ``transform`` too (not UMAP's ``embedding_``),
        # so predicting a training record lands exactly where fitting put it.
        X = np.asarray(X, dtype=np.float32)
        return self.fit(X).transform(X)

    def transform(self, X: ArrayLike) -> NDArray[np.float32]:
        check_is_fitted(self, "reducer_")
        X = np.asarray(X, dtype=np.float32)
        if len(X) == 0:
            return np.zeros((0, self._out_dim()), dtype=np.float32)
        with _vectorized_umap_init():
            parts = [
                np.asarray(self.reducer_.transform(X[i : i + self.block_size]), dtype=np.float32)
                for i in range(0, len(X), self.block_size)
            ]
        return np.concatenate(parts, axis=0)

    def _out_dim(self) -> int:
        n = getattr(self.reducer_, "n_components", None)
        return int(n) if n is not None else int(self.n_features_in_)


def init_graph_transform(
    graph: scipy.sparse.csr_matrix, embedding: NDArray[np.float32]
) -> NDArray[np.float32]:
    """``umap.umap_.init_graph_transform`` without its Python loop over rows.

    UMAP places each new point, before its short layout optimisation, at the weighted
    mean of its neighbours' positions (at a neighbour's position where an edge weighs
    exactly 1, the first such; NaN without neighbours). UMAP 0.5 does it one sparse row
    at a time in Python, ~50 us a row: about a minute per million records transformed,
    several minutes per fit at a million records. Same result, as two sparse products.
    """
    csr = scipy.sparse.csr_matrix(graph)
    result = np.zeros((csr.shape[0], embedding.shape[1]), dtype=np.float32)
    row_sum = np.asarray(csr.sum(axis=1), dtype=np.float64).ravel()
    has = row_sum > 0
    weights = scipy.sparse.diags(np.divide(1.0, row_sum, where=has, out=np.zeros_like(row_sum)))
    result[:] = (weights @ csr) @ np.asarray(embedding, dtype=np.float64)
    entry_rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    exact = np.flatnonzero(csr.data == 1)
    rows, first = np.unique(entry_rows[exact], return_index=True)
    result[rows] = embedding[csr.indices[exact[first]]]
    result[np.diff(csr.indptr) == 0] = np.nan
    return result


@contextlib.contextmanager
def _vectorized_umap_init() -> Iterator[None]:
    """UMAP's ``transform`` with :func:`init_graph_transform` in place of its loop."""
    import umap.umap_ as umap_module

    original = umap_module.init_graph_transform
    umap_module.init_graph_transform = init_graph_transform
    try:
        yield
    finally:
        umap_module.init_graph_transform = original
