"""The documented "too broad" rule: which topics the next layer should split.

Among siblings (the topics of one parent, or all layer-1 topics) a topic is

* ``too_broad`` when its share of the siblings' records exceeds
  ``share_factor`` x the average share (1 / number of siblings);
* ``dispersed`` when the mean cosine distance of its records to their centroid
  exceeds the siblings' median by ``dispersion_factor``;
* ``low_coherence`` when the NPMI of its top keywords (document co-occurrence
  in the siblings' keyword corpus) is below ``min_coherence``;
* ``substructure`` when its records hold more than one group: the gap statistic
  (Tibshirani, Walther and Hastie 2001) of two clusters over one exceeds its
  standard error. This one looks at the topic alone, not at its siblings: a topic
  can be as broad as its siblings and still be one homogeneous group.

Flags are suggestions written into the mapping file; a person can override
them by changing the topic's action.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans

from topicstrata.ensemble.config import SplitRule
from topicstrata.ensemble.tree import TopicNode
from topicstrata.evaluate.coherence import npmi_per_topic


def dispersion(
    X: NDArray[np.float32], labels: NDArray[np.intp], centroids: NDArray[np.float32]
) -> NDArray[np.float64]:
    """Mean cosine distance of each topic's rows to its (unit) centroid."""
    norms = np.maximum(np.linalg.norm(X, axis=1), 1e-12)
    sims = np.einsum("ij,ij->i", X, centroids[labels]) / norms
    k = len(centroids)
    total = np.bincount(labels, weights=1.0 - sims, minlength=k)
    count = np.maximum(np.bincount(labels, minlength=k), 1)
    return np.asarray(total / count, dtype=np.float64)


#: The flag the ``structure`` split mode splits on.
SUBSTRUCTURE = "substructure"
#: Rows of a topic the gap statistic reads (seeded sample), and its uniform references.
GAP_ROWS = 400
GAP_REFERENCES = 5


def substructure_gap(
    X: NDArray[np.float32], *, max_rows: int = GAP_ROWS, n_refs: int = GAP_REFERENCES, seed: int = 0
) -> tuple[float, float]:
    """``(Gap(2) - Gap(1), s_2)``: how much better two clusters fit ``X`` than one,
    beyond what they fit in structureless data of the same extent, and the standard
    error of that reference.

    Tibshirani's gap statistic with the reference drawn uniformly from the box of the
    data's principal axes; the rows are unit-normalised first (cosine geometry).
    Tibshirani's rule keeps one cluster unless ``Gap(1) < Gap(2) - s_2``, i.e. unless
    the first value exceeds the second. Written here because neither scikit-learn nor
    scipy has a gap statistic; only k = 1 and 2 are needed to tell whether a topic
    holds more than one group, which is what splitting it needs.
    """
    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        X = X[rng.choice(len(X), max_rows, replace=False)]
    X = np.asarray(X, dtype=np.float64)
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    if len(X) < 4:
        return 0.0, 0.0
    centred = X - X.mean(axis=0)
    # Rotate onto the principal axes; distances (and so W_k) do not change.
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    Z = centred @ vt.T
    low, high = Z.min(axis=0), Z.max(axis=0)

    def log_w(Y: NDArray[np.float64]) -> tuple[float, float]:
        one = float(((Y - Y.mean(axis=0)) ** 2).sum())
        km = KMeans(n_clusters=2, n_init=2, random_state=seed).fit(Y)
        return np.log(max(one, 1e-300)), np.log(max(float(km.inertia_), 1e-300))

    w1, w2 = log_w(Z)
    refs = np.array([log_w(rng.uniform(low, high, size=Z.shape)) for _ in range(n_refs)])
    gap1, gap2 = refs[:, 0].mean() - w1, refs[:, 1].mean() - w2
    s2 = float(refs[:, 1].std() * np.sqrt(1.0 + 1.0 / n_refs))
    return float(gap2 - gap1), s2


def flag_siblings(
    nodes: list[TopicNode],
    dispersions: NDArray[np.float64],
    keyword_texts: list[str],
    rule: SplitRule,
    gaps: list[tuple[float, float] | None] | None = None,
) -> None:
    """Fill ``flags``, ``coherence`` and ``dispersion`` of sibling ``nodes`` in place.

    ``gaps`` holds :func:`substructure_gap` of each node's records (``None`` where it was
    not measured, e.g. a topic too small to split). ``coherence`` is the NPMI of each
    node's ``vocabulary`` (its c-TF-IDF top words), or of its keywords without one."""
    if not nodes:
        return
    total = sum(n.size for n in nodes) or 1
    average_share = 1.0 / len(nodes)
    median_disp = float(np.median(dispersions))
    coherences = _coherences([n.vocabulary or n.keywords for n in nodes], keyword_texts)
    gaps = gaps if gaps is not None else [None] * len(nodes)
    for node, disp, coh, gap in zip(nodes, dispersions, coherences, gaps, strict=True):
        node.dispersion = round(float(disp), 4)
        node.coherence = None if math.isnan(coh) else round(coh, 4)
        share = node.size / total
        flags = []
        if len(nodes) > 1 and share > rule.share_factor * average_share:
            flags.append(f"too_broad: share {share:.2f} > {rule.share_factor * average_share:.2f}")
        if len(nodes) > 1 and disp > rule.dispersion_factor * median_disp:
            flags.append(f"dispersed: {disp:.3f} > {rule.dispersion_factor * median_disp:.3f}")
        if node.coherence is not None and node.coherence < rule.min_coherence:
            flags.append(f"low_coherence: npmi {node.coherence:.3f} < {rule.min_coherence:.3f}")
        if gap is not None and gap[0] > gap[1]:
            flags.append(f"{SUBSTRUCTURE}: gap {gap[0]:.3f} > {gap[1]:.3f}")
        node.flags = flags


def _coherences(topics: list[list[str]], keyword_texts: list[str]) -> list[float]:
    if sum(len(t) >= 2 for t in topics) == 0 or not keyword_texts:
        return [math.nan] * len(topics)
    padded = [t if len(t) >= 2 else ["", ""] for t in topics]
    return npmi_per_topic(padded, (t.split() for t in keyword_texts), topk=10)


def wants_split(node: TopicNode, rule: SplitRule) -> bool:
    """Whether ``node`` is marked ``split`` by default in the mapping."""
    if node.size < rule.min_size or rule.mode == "none":
        return False
    if rule.mode == "structure":
        return any(flag.startswith(f"{SUBSTRUCTURE}:") for flag in node.flags)
    return rule.mode == "all" or bool(node.flags)
