"""Dimensionality reduction for a layer: UMAP (or any transformer) fitted on a sample.

UMAP's cost grows faster than linearly and its first call compiles for tens of
seconds, so at scale it is fitted on a bounded random sample and applied to the
rest with ``transform``. ``SampledReducer`` wraps any scikit-learn transformer
that way; the wrapped estimator is a parameter so tests can pass a cheap PCA.
"""

from __future__ import annotations

import logging
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from topicstrata.errors import ConfigError

logger = logging.getLogger(__name__)

REDUCERS = ("umap", "pca", "none")


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
        self.reducer_.fit(X[self.sample_idx_])
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
        parts = [
            np.asarray(self.reducer_.transform(X[i : i + self.block_size]), dtype=np.float32)
            for i in range(0, len(X), self.block_size)
        ]
        return np.concatenate(parts, axis=0)

    def _out_dim(self) -> int:
        n = getattr(self.reducer_, "n_components", None)
        return int(n) if n is not None else int(self.n_features_in_)
