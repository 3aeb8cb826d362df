"""Fitting one group of records into topics: the unit of work of every layer.

``fit_group`` is a pure, picklable function: rows in, a fitted ``LayerModel``
and the nodes of its topics out. Layer 1 calls it once on all records; layer
n+1 calls it once per topic marked ``split``, in parallel processes. The
pipeline caches each call on its own, so editing one topic's mapping refits
only that topic's subtree.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from topicstrata.ensemble.config import LayerConfig, RepresentationConfig, SplitRule
from topicstrata.ensemble.flags import dispersion, flag_siblings
from topicstrata.ensemble.tree import TopicNode
from topicstrata.layers import LayerModel

logger = logging.getLogger(__name__)


@dataclass
class GroupFit:
    """The result of clustering one group: model, per-row child index, child nodes."""

    parent: str | None
    model: LayerModel
    labels: NDArray[np.intp]
    nodes: list[TopicNode]


def child_path(parent: str | None, index: int) -> str:
    return str(index) if parent is None else f"{parent}.{index}"


def fit_group(
    parent: str | None,
    embeddings: NDArray[np.float32],
    keyword_texts: Sequence[str],
    ids: Sequence[str],
    layer: LayerConfig,
    representation: RepresentationConfig,
    split_rule: SplitRule,
    random_state: int,
) -> GroupFit:
    """Cluster the rows of one parent (``None`` for layer 1) into child topics."""
    model = layer.build(random_state).fit(embeddings)
    labels = model.labels_
    texts = list(keyword_texts)
    rep = representation.build().fit(texts, labels, embeddings, model.centroids_)
    sizes = np.bincount(labels, minlength=model.n_topics_)
    nodes = [
        TopicNode(
            path=child_path(parent, t),
            size=int(sizes[t]),
            keywords=rep.keywords_.get(t, []),
            keyword_scores=rep.keyword_scores_.get(t, []),
            phrases=rep.phrases_.get(t, []),
            representative_ids=[str(ids[r]) for r in rep.representatives_.get(t, [])],
        )
        for t in range(model.n_topics_)
    ]
    flag_siblings(nodes, dispersion(embeddings, labels, model.centroids_), texts, split_rule)
    logger.info("fitted %s into %d topics", parent or "all records", model.n_topics_)
    return GroupFit(parent=parent, model=model, labels=labels, nodes=nodes)
