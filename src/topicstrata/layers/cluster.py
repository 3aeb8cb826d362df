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
    """Pick the smallest BIRCH threshold whose CF-tree stays within ``max_subclusters``.

    Fits BIRCH on a sample with growing thresholds, starting from a low quantile
    of nearest-neighbour distances (fine subclusters keep the global step close
    to clustering the points themselves). The sample's budget of subclusters is
    ``max_subclusters`` scaled by the sample's share of the data (but at least
    a quarter of it, as small samples fragment less).
    """
    n = len(Z)
    rng = np.random.default_rng(random_state)
    idx = rng.choice(n, min(n, sample_size), replace=False)
    S = Z[idx]
    budget = max(max_subclusters * len(S) / n, max_subclusters / 4, 2.0)
    if len(S) < 3:
        return 0.5
    probe = S[: min(len(S), 2000)]
    dist, _ = NearestNeighbors(n_neighbors=2).fit(S).kneighbors(probe)
    nearest = dist[:, 1][dist[:, 1] > 0]
    # Half the 10% quantile: in high dimensions even that quantile can sit past the cliff.
    threshold = 0.5 * float(np.quantile(nearest, 0.1)) if len(nearest) else 1e-3
    threshold = max(threshold, 1e-6)

    def n_subclusters(t: float) -> int:
        tree = Birch(threshold=t, n_clusters=None, branching_factor=branching_factor)
        return len(tree.fit(S).subcluster_centers_)

    # Grow until within budget, then bisect: in high dimensions the count of
    # subclusters falls steeply with the threshold, so coarse steps overshoot.
    too_fine = None
    n_sub = n_subclusters(threshold)
    for _ in range(40):
        if n_sub <= budget:
            break
        too_fine, threshold = threshold, threshold * 1.5
        n_sub = n_subclusters(threshold)
    if too_fine is not None:
        low, high = too_fine, threshold
        for _ in range(6):
            mid = (low + high) / 2
            count = n_subclusters(mid)
            if count <= budget:
                high, n_sub = mid, count
            else:
                low = mid
        threshold = high
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
    if n_sub < k_lo:
        logger.warning(
            "only %d BIRCH subclusters for k_range %s: topics are capped at %d; lower the "
            "threshold or raise max_subclusters",
            n_sub,
            k_range,
            n_sub,
        )
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
