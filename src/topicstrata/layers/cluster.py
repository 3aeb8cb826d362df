"""BIRCH clustering with a data-scaled threshold and a searched number of clusters.

BIRCH compresses the points into a CF-tree of subclusters; the final ("global")
step groups the subcluster centroids into k clusters. We run the CF-tree once
and the global step once per candidate k, so searching k costs little.

Two traps shape this module:

* BIRCH's default threshold (0.5) on 100k+ points in a small space yields tens
  of thousands of subclusters and the global step runs out of memory. The
  threshold is therefore chosen from the data: it starts at a quantile of
  nearest-neighbour distances on a sample and grows until the sample produces
  at most ``max_subclusters`` (scaled to the sample's share of the data).
* scikit-learn's global step ignores how many points each subcluster holds; we
  weight the centroids by their counts (KMeans ``sample_weight``) or use Ward
  linkage, optionally over a k-nearest-neighbour graph (``ward-knn``).

The number of clusters is chosen inside ``k_range`` by the mean silhouette
coefficient of a fixed random sample of points (ties go to the smaller k).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import AgglomerativeClustering, Birch, KMeans
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors, kneighbors_graph

from topicstrata.errors import ConfigError

logger = logging.getLogger(__name__)

GLOBAL_STEPS = ("kmeans", "ward", "ward-knn")


def scaled_threshold(
    Z: NDArray[np.float32],
    *,
    max_subclusters: int = 2000,
    sample_size: int = 20_000,
    branching_factor: int = 50,
    random_state: int = 0,
) -> float:
    """Pick a BIRCH threshold so the CF-tree stays near ``max_subclusters`` leaves.

    Fits BIRCH on a sample with growing thresholds; the sample's budget of
    subclusters is ``max_subclusters`` scaled by the sample's share of the data
    (but at least a quarter of it, as small samples fragment less).
    """
    n = len(Z)
    rng = np.random.default_rng(random_state)
    idx = rng.choice(n, min(n, sample_size), replace=False)
    S = Z[idx]
    budget = max(max_subclusters * len(S) / n, max_subclusters / 4, 2.0)
    k = min(5, len(S) - 1)
    if k < 1:
        return 0.5
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(S).kneighbors(S[: min(len(S), 2000)])
    threshold = float(np.median(dist[:, k])) or 1e-3
    for _ in range(20):
        tree = Birch(threshold=threshold, n_clusters=None, branching_factor=branching_factor)
        n_sub = len(tree.fit(S).subcluster_centers_)
        if n_sub <= budget:
            break
        threshold *= 1.4
    logger.debug(
        "BIRCH threshold %.4g gives %d subclusters on a %d sample", threshold, n_sub, len(S)
    )
    return threshold


def global_step(
    centers: NDArray[np.float64],
    weights: NDArray[np.float64],
    k: int,
    method: str,
    random_state: int = 0,
) -> NDArray[np.intp]:
    """Group subcluster centroids into ``k`` clusters; returns a label per centroid."""
    if k >= len(centers):
        return np.arange(len(centers))
    if method == "kmeans":
        km = KMeans(n_clusters=k, n_init=4, random_state=random_state)
        return km.fit(centers, sample_weight=weights).labels_.astype(np.intp)
    if method == "ward":
        return AgglomerativeClustering(n_clusters=k, linkage="ward").fit(centers).labels_
    if method == "ward-knn":
        graph = kneighbors_graph(centers, n_neighbors=min(10, len(centers) - 1), include_self=False)
        ward = AgglomerativeClustering(n_clusters=k, linkage="ward", connectivity=graph)
        return ward.fit(centers).labels_
    raise ConfigError(f"unknown global step {method!r}; choose one of {', '.join(GLOBAL_STEPS)}.")


@dataclass
class KSearchResult:
    """The chosen k, the labels at that k, and the criterion for every k tried."""

    k: int
    center_labels: NDArray[np.intp]
    scores: dict[int, float] = field(default_factory=dict)


def search_k(
    Z: NDArray[np.float32],
    sub_labels: NDArray[np.intp],
    centers: NDArray[np.float64],
    k_range: tuple[int, int],
    method: str,
    *,
    score_sample: int = 5000,
    random_state: int = 0,
) -> KSearchResult:
    """Try every k in ``k_range`` (inclusive) and keep the best mean silhouette.

    The silhouette is computed on one fixed random sample of points (the same
    for every k) in the clustering space; a k that leaves a single cluster
    scores -1.
    """
    k_lo, k_hi = k_range
    n_sub = len(centers)
    weights = np.bincount(sub_labels, minlength=n_sub).astype(np.float64)
    k_hi = min(k_hi, n_sub)
    k_lo = min(k_lo, k_hi)
    rng = np.random.default_rng(random_state)
    sample = rng.choice(len(Z), min(len(Z), score_sample), replace=False)
    best: KSearchResult | None = None
    scores: dict[int, float] = {}
    for k in range(k_lo, k_hi + 1):
        center_labels = global_step(centers, weights, k, method, random_state)
        point_labels = center_labels[sub_labels[sample]]
        if len(np.unique(point_labels)) < 2 or len(np.unique(point_labels)) >= len(sample):
            score = -1.0
        else:
            score = float(silhouette_score(Z[sample], point_labels))
        scores[k] = score
        if best is None or score > scores[best.k] + 1e-9:
            best = KSearchResult(k=k, center_labels=center_labels)
    assert best is not None
    best.scores = scores
    logger.info("k search %s: chose k=%d (silhouette %.3f)", k_range, best.k, scores[best.k])
    return best
