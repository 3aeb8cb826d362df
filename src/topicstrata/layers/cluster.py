"""BIRCH clustering with a data-scaled threshold and a searched number of clusters.

BIRCH compresses the points into a CF-tree of subclusters; the final ("global")
step groups the subcluster centroids into k clusters. We run the CF-tree once;
the Ward steps build one merge tree of the centroids and cut it at every
candidate k (KMeans, which has no tree, is fitted once per k), so searching k
costs one tree.

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
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import Birch, KMeans, ward_tree
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors, kneighbors_graph

from topicstrata.errors import ConfigError

logger = logging.getLogger(__name__)

GLOBAL_STEPS = ("kmeans", "ward", "ward-knn")


def fit_birch(Z: NDArray[np.float32], threshold: float, branching_factor: int) -> Birch:
    """A CF-tree of ``Z`` (no global step: ``n_clusters=None``).

    ``Birch.fit`` rejects non-finite input itself, so an "invalid value" floating-point
    flag raised inside its ``np.dot`` calls is not a NaN in the data: the flag is left
    over from earlier code in the thread or set in discarded BLAS lanes (numpy issues
    13173 and 24067). It failed one full test run under ``-W error`` (layer 2 of the CLI
    test, not reproducible alone), so it is ignored here, and only here.
    """
    with np.errstate(invalid="ignore"):
        return Birch(threshold=threshold, n_clusters=None, branching_factor=branching_factor).fit(Z)


#: Rows per block in :func:`nearest_subcluster` (a block's distances: rows x subclusters).
NEAREST_BLOCK = 8_192


def nearest_subcluster(birch: Birch, Z: NDArray[np.float32]) -> NDArray[np.intp]:
    """Index of each row's nearest subcluster centre: what ``Birch.predict`` returns with
    ``n_clusters=None``, at a fraction of its fixed cost per call.

    scikit-learn answers through ``pairwise_distances_argmin``, whose threaded reduction
    costs ~8 ms a call however few the rows (profiled: 9 of the 33 ms of one record's
    prediction in ``strata serve``, one call per layer). The same squared euclidean
    distance, ``|c|^2 - 2 z.c`` (``|z|^2`` does not change the argmin), in float64 blocks
    of :data:`NEAREST_BLOCK` rows, costs microseconds for a record and no more than
    scikit-learn's for a million.
    """
    centers = np.asarray(birch.subcluster_centers_, dtype=np.float64)
    norms = np.einsum("ij,ij->i", centers, centers)
    out = np.empty(len(Z), dtype=np.intp)
    for start in range(0, len(Z), NEAREST_BLOCK):
        block = np.asarray(Z[start : start + NEAREST_BLOCK], dtype=np.float64)
        out[start : start + len(block)] = np.argmin(norms - 2.0 * (block @ centers.T), axis=1)
    return out


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
        return len(fit_birch(S, t, branching_factor).subcluster_centers_)

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


def global_steps(
    centers: NDArray[np.float64],
    weights: NDArray[np.float64],
    ks: Sequence[int],
    method: str,
    random_state: int = 0,
) -> dict[int, NDArray[np.intp]]:
    """Group subcluster centroids into ``k`` clusters for every ``k`` in ``ks``.

    Ward (plain or over a kNN graph) builds the merge tree once and cuts it at each k:
    the same labels as fitting ``AgglomerativeClustering(n_clusters=k)`` per k, at the
    cost of one fit. KMeans has no tree and is fitted once per k.
    """
    if method not in GLOBAL_STEPS:
        raise ConfigError(
            f"unknown global step {method!r}; choose one of {', '.join(GLOBAL_STEPS)}."
        )
    n = len(centers)
    out = {k: np.arange(n, dtype=np.intp) for k in ks if k >= n}
    wanted = sorted(k for k in ks if k < n)
    if not wanted:
        return out
    if method == "kmeans":
        for k in wanted:
            km = KMeans(n_clusters=k, n_init=4, random_state=random_state)
            out[k] = km.fit(centers, sample_weight=weights).labels_.astype(np.intp)
        return out
    connectivity = None
    if method == "ward-knn":
        connectivity = kneighbors_graph(centers, n_neighbors=min(10, n - 1), include_self=False)
    # ward_tree joins a graph's separate components itself, so its tree is complete.
    children, _, n_leaves, _ = ward_tree(centers, connectivity=connectivity)
    out.update(cut_tree(children, n_leaves, wanted))
    return out


def cut_tree(
    children: NDArray[np.intp], n_leaves: int, ks: Sequence[int]
) -> dict[int, NDArray[np.intp]]:
    """Leaf labels of a merge tree cut into k clusters, for every k in ``ks``.

    ``children`` is scikit-learn's ``ward_tree`` output: merge i joins nodes
    ``children[i]`` into node ``n_leaves + i``. Cutting at k keeps the first
    ``n_leaves - k`` merges. Written here because scikit-learn cuts a tree at one k
    per fit, and scipy's ``cut_tree`` reorders merges by height, which Ward over a
    connectivity graph does not keep monotone.
    """
    # Union-find over leaves and merge nodes, merges applied in order.
    root = np.arange(n_leaves + len(children), dtype=np.intp)

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = int(root[i])
        return i

    cuts: dict[int, NDArray[np.intp]] = {}
    n_clusters, merge = n_leaves, 0
    for target in sorted(set(ks), reverse=True):
        while n_clusters > target and merge < len(children):
            for child in children[merge]:
                root[find(int(child))] = n_leaves + merge
            merge += 1
            n_clusters -= 1
        roots = np.array([find(i) for i in range(n_leaves)], dtype=np.intp)
        cuts[target] = np.unique(roots, return_inverse=True)[1].astype(np.intp)
    return {k: cuts[k] for k in ks}


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
    cuts = global_steps(centers, weights, range(k_lo, k_hi + 1), method, random_state)
    for k in range(k_lo, k_hi + 1):
        center_labels = cuts[k]
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
