"""``LayerModel``: one layer of the ensemble, as a scikit-learn clusterer.

reduce (UMAP on a sample, or PCA, or the raw space) -> BIRCH CF-tree with a
data-scaled threshold -> global step for every k in ``k_range`` -> the k with
the best silhouette. Topics are numbered by size, largest first, so the same
data and seed always give the same numbering.
"""

from __future__ import annotations

import logging
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from topicstrata._progress import report
from topicstrata.errors import ConfigError
from topicstrata.layers.cluster import (
    GLOBAL_STEPS,
    fit_birch,
    nearest_subcluster,
    scaled_threshold,
    search_k,
)
from topicstrata.layers.reduce import SampledReducer, make_reducer
from topicstrata.sampling import seeded_rows

logger = logging.getLogger(__name__)

#: Rows per block when assigning or scoring many rows, so memory stays bounded.
BLOCK = 100_000

#: Temperature of the softmax over centroid similarities that gives ``confidence``.
CONFIDENCE_TEMPERATURE = 0.05


class LayerModel(ClusterMixin, TransformerMixin, BaseEstimator):
    """Cluster one layer's embeddings into topics.

    Parameters
    ----------
    reducer:
        ``"umap"``, ``"pca"``, ``"none"`` (cluster the raw embedding space) or an
        unfitted scikit-learn transformer (tests pass a cheap PCA).
    n_components, n_neighbors, min_dist, metric:
        Settings of the named reducer (UMAP uses all four, PCA the first).
    max_fit_samples:
        The reducer, the CF-tree and the k search learn from this many rows (or all,
        where there are fewer): seeded random ones, taking the ``fit`` call's
        ``fit_rows`` first; the rest are assigned with ``predict``.
    global_step:
        How subcluster centroids become topics: ``"ward"`` (the default),
        ``"kmeans"`` (weighted by subcluster size) or ``"ward-knn"`` (Ward over a
        kNN graph). Ward scored as well or better than KMeans at every level of the
        hierarchical benchmark corpora (bench/README.md: Amazon level 2 .583 vs .521,
        synthetic 50k level 1 .909 vs .873, 20 Newsgroups level 1 .486 vs .438).
    k_range:
        Inclusive range searched for the number of topics.
    threshold:
        BIRCH threshold, or ``"auto"`` to scale it to the data.
    branching_factor, max_subclusters:
        CF-tree shape; ``max_subclusters`` bounds the auto threshold's tree.
    random_state:
        Seed for sampling, UMAP and KMeans.
    """

    def __init__(
        self,
        reducer: Any = "umap",
        n_components: int = 5,
        n_neighbors: int = 15,
        min_dist: float = 0.0,
        metric: str = "cosine",
        max_fit_samples: int = 50_000,
        global_step: str = "ward",
        k_range: tuple[int, int] = (15, 25),
        threshold: float | str = "auto",
        branching_factor: int = 50,
        max_subclusters: int = 2000,
        random_state: int = 0,
    ) -> None:
        self.reducer = reducer
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.max_fit_samples = max_fit_samples
        self.global_step = global_step
        self.k_range = k_range
        self.threshold = threshold
        self.branching_factor = branching_factor
        self.max_subclusters = max_subclusters
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: None = None, fit_rows: ArrayLike | None = None) -> Self:
        """Fit on a bounded sample of ``X`` and assign every row of it.

        The reducer, the CF-tree and the k search see ``min(len(X), max_fit_samples)``
        rows, chosen by ``_fit_sample``: seeded random rows, and with ``fit_rows``
        (e.g. the records embedded by the teacher model, whose vectors are the most
        faithful) every one of those first, then seeded random others up to that size,
        so the sample is as large as without ``fit_rows``. Every row is then assigned
        with ``predict``, so ``labels_`` covers all of ``X`` and the cost of
        clustering does not grow with the data.
        """
        X = self._validated(X, reset=True)
        if self.global_step not in GLOBAL_STEPS:
            raise ConfigError(
                f"global_step={self.global_step!r} is not one of {', '.join(GLOBAL_STEPS)}."
            )
        self._checked_k_range(len(X))
        sample = self._fit_sample(len(X), fit_rows)
        k_lo, k_hi = self._checked_k_range(len(sample))
        self.n_fit_samples_ = len(sample)
        self.reducer_ = SampledReducer(
            self._base_reducer(len(sample)), len(sample), random_state=self.random_state
        )
        Z = self.reducer_.fit_transform(X[sample])
        if self.threshold == "auto":
            self.threshold_ = scaled_threshold(
                Z,
                max_subclusters=self.max_subclusters,
                branching_factor=self.branching_factor,
                random_state=self.random_state,
            )
        else:
            self.threshold_ = float(self.threshold)
        self.birch_ = fit_birch(Z, self.threshold_, self.branching_factor)
        sub_labels = self.birch_.labels_.astype(np.intp)
        centers = self.birch_.subcluster_centers_
        logger.info(
            "BIRCH: %d subclusters (threshold %.4g) from %d of %d rows",
            len(centers),
            self.threshold_,
            len(sample),
            len(X),
        )
        result = search_k(
            Z, sub_labels, centers, (k_lo, k_hi), self.global_step, random_state=self.random_state
        )
        # Renumber topics by size, largest first, for stable readable ids.
        raw = result.center_labels[sub_labels]
        sizes = np.bincount(raw, minlength=result.k)
        order = np.argsort(-sizes, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        self.center_labels_ = rank[result.center_labels]
        # Every row through predict, in blocks: on the sample this is exactly the fit's
        # own labelling (BIRCH labels its points by nearest subcluster), and no copy of X.
        blocks = []
        for i in range(0, len(X), BLOCK):
            blocks.append(self.predict(X[i : i + BLOCK]))
            report("assign rows", min(i + BLOCK, len(X)), len(X))
        self.labels_ = np.concatenate(blocks)
        self.n_topics_ = int(result.k)
        self.k_scores_ = result.scores
        self.centroids_ = _centroids(X, self.labels_, self.n_topics_)
        return self

    def _fit_sample(self, n: int, fit_rows: ArrayLike | None) -> NDArray[np.intp]:
        """Sorted row indices the fit learns from: ``min(n, max_fit_samples)`` of them.

        Without ``fit_rows``, seeded random rows (:func:`topicstrata.sampling.seeded_rows`).
        With them: those same rows where ``fit_rows`` hold all of them; else the preferred
        rows, all of them (a seeded random subset where they are more than
        ``max_fit_samples``), then seeded random other rows up to that size. A model of
        the large-input path thus learns from as many rows as one fitted on teacher
        vectors everywhere; its k search and CF-tree see the same density (teacher rows
        alone, ~8,000, made layer 1 choose 17 topics where 50,000 rows chose 25;
        bench/README.md).
        """
        size = min(n, self.max_fit_samples)
        seeded = seeded_rows(n, size, self.random_state)
        if fit_rows is None:
            return seeded
        preferred = np.unique(np.asarray(fit_rows, np.intp))
        if len(preferred) and (preferred[0] < 0 or preferred[-1] >= n):
            raise ConfigError(
                f"fit_rows must index the {n} rows of X; got {preferred[0]}..{preferred[-1]}."
            )
        if np.isin(seeded, preferred, assume_unique=True).all():
            # The preferred rows hold the sample a fit without them would take (the
            # large-input path's teacher covers layer 1's sample): learn from exactly it,
            # so the model is the one the all-teacher path learns.
            return seeded
        rng = np.random.default_rng(self.random_state)
        if len(preferred) >= size:
            return np.sort(rng.choice(preferred, size, replace=False))
        others = np.setdiff1d(np.arange(n), preferred, assume_unique=True)
        fill = rng.choice(others, size - len(preferred), replace=False)
        logger.info(
            "fit sample: %d preferred rows and %d others of %d", len(preferred), len(fill), n
        )
        return np.sort(np.concatenate([preferred, fill]))

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Assign each row to a learned topic (nearest BIRCH subcluster's topic)."""
        check_is_fitted(self, "birch_")
        X = self._validated(X, reset=False)
        if len(X) == 0:
            return np.zeros(0, dtype=np.intp)
        sub = nearest_subcluster(self.birch_, self.reducer_.transform(X))
        return np.asarray(self.center_labels_[sub], dtype=np.intp)

    def transform(self, X: ArrayLike) -> NDArray[np.float32]:
        """Cosine similarity of each row to each topic centroid (embedding space)."""
        check_is_fitted(self, "centroids_")
        X = self._validated(X, reset=False)
        out = np.empty((len(X), len(self.centroids_)), dtype=np.float32)
        for i in range(0, len(X), BLOCK):
            out[i : i + BLOCK] = _normalize(X[i : i + BLOCK]) @ self.centroids_.T
        return out

    def confidence(self, X: ArrayLike, labels: NDArray[np.intp]) -> NDArray[np.float32]:
        """Softmax weight of the assigned topic among all centroids (0..1)."""
        sims = self.transform(X)
        if sims.shape[1] == 0:
            return np.zeros(len(labels), dtype=np.float32)
        logits = (sims - sims.max(axis=1, keepdims=True)) / CONFIDENCE_TEMPERATURE
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p[np.arange(len(labels)), labels].astype(np.float32)

    def _validated(self, X: ArrayLike, reset: bool) -> NDArray[np.float32]:
        data: NDArray[np.float32] = validate_data(self, X, dtype=np.float32, reset=reset)
        return data

    def _checked_k_range(self, n: int) -> tuple[int, int]:
        try:
            k_lo, k_hi = (int(v) for v in self.k_range)
        except (TypeError, ValueError):
            raise ConfigError(
                f"k_range={self.k_range!r} must be two integers (low, high), e.g. (15, 25)."
            ) from None
        if not 2 <= k_lo <= k_hi:
            raise ConfigError(f"k_range={self.k_range!r} needs 2 <= low <= high.")
        if n < k_lo + 1:
            raise ConfigError(
                f"cannot find {k_lo} topics in n_samples={n} records; lower k_range or mark this "
                "topic 'keep' in the mapping file."
            )
        return k_lo, min(k_hi, n - 1)

    def _base_reducer(self, n: int) -> Any:
        if not isinstance(self.reducer, str):
            return self.reducer
        fit_n = min(n, self.max_fit_samples)
        kind = self.reducer
        if kind == "umap" and fit_n <= self.n_components + 2:
            logger.warning("only %d records: clustering the raw space instead of UMAP", n)
            kind = "none"
        n_components = min(self.n_components, fit_n - 1) if kind == "pca" else self.n_components
        return make_reducer(
            kind,
            n_components=n_components,
            n_neighbors=max(2, min(self.n_neighbors, fit_n - 1)),
            min_dist=self.min_dist,
            metric=self.metric,
            random_state=self.random_state,
        )


def _normalize(X: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, 1e-12)).astype(np.float32)


def _centroids(X: NDArray[np.float32], labels: NDArray[np.intp], k: int) -> NDArray[np.float32]:
    """Unit-length mean embedding of each topic (summed in blocks: no copy of X)."""
    total = np.zeros((k, X.shape[1]), dtype=np.float32)
    for i in range(0, len(X), BLOCK):
        part = labels[i : i + BLOCK]
        onehot = sp.csr_matrix(
            (np.ones(len(part), dtype=np.float32), (part, np.arange(len(part)))),
            shape=(k, len(part)),
        )
        total += np.asarray(onehot @ _normalize(X[i : i + BLOCK]), dtype=np.float32)
    return _normalize(total)
