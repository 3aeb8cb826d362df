"""The documented "too broad" rule: which topics the next layer should split.

Among siblings (the topics of one parent, or all layer-1 topics) a topic is

* ``too_broad`` when its share of the siblings' records exceeds
  ``share_factor`` x the average share (1 / number of siblings);
* ``dispersed`` when the mean cosine distance of its records to their centroid
  exceeds the siblings' median by ``dispersion_factor``;
* ``low_coherence`` when the NPMI of its top keywords (document co-occurrence
  in the siblings' keyword corpus) is below ``min_coherence``.

Flags are suggestions written into the mapping file; a person can override
them by changing the topic's action.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

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


def flag_siblings(
    nodes: list[TopicNode],
    dispersions: NDArray[np.float64],
    keyword_texts: list[str],
    rule: SplitRule,
) -> None:
    """Fill ``flags``, ``coherence`` and ``dispersion`` of sibling ``nodes`` in place."""
    if not nodes:
        return
    total = sum(n.size for n in nodes) or 1
    average_share = 1.0 / len(nodes)
    median_disp = float(np.median(dispersions))
    coherences = _coherences(nodes, keyword_texts)
    for node, disp, coh in zip(nodes, dispersions, coherences, strict=True):
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
        node.flags = flags


def _coherences(nodes: list[TopicNode], keyword_texts: list[str]) -> list[float]:
    topics = [n.keywords for n in nodes]
    if sum(len(t) >= 2 for t in topics) == 0 or not keyword_texts:
        return [math.nan] * len(nodes)
    padded = [t if len(t) >= 2 else ["", ""] for t in topics]
    return npmi_per_topic(padded, (t.split() for t in keyword_texts), topk=10)


def wants_split(node: TopicNode, rule: SplitRule) -> bool:
    """Whether ``node`` is marked ``split`` by default in the mapping."""
    if node.size < rule.min_size or rule.mode == "none":
        return False
    return rule.mode == "all" or bool(node.flags)
