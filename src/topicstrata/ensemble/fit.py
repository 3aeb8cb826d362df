"""Fitting one group of records into topics: the unit of work of every layer.

Two pure, picklable functions, run as two maps by ``Ensemble.fit_layer``:
``cluster_group`` (rows in, a fitted ``LayerModel`` out: reduce + cluster, the
cost) and ``describe_group`` (the nodes of its topics: keywords and flags,
cheap). Layer 1 runs them once on all records; layer n+1 once per topic marked
``split``, clustering in parallel processes when ``fans_out`` says so. The
pipeline caches each call on its own, so editing one topic's mapping refits only
that topic's subtree, and a keyword setting change re-describes topics without
clustering them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from topicstrata.ensemble.config import (
    EnsembleConfig,
    LayerConfig,
    RepresentationConfig,
    SplitRule,
)
from topicstrata.ensemble.flags import dispersion, flag_siblings, substructure_gap
from topicstrata.ensemble.tree import TopicNode
from topicstrata.layers import LayerModel

logger = logging.getLogger(__name__)


def child_path(parent: str | None, index: int) -> str:
    return str(index) if parent is None else f"{parent}.{index}"


def cluster_group(
    embeddings: NDArray[np.float32],
    layer: LayerConfig,
    random_state: int,
    fit_rows: NDArray[np.intp] | None = None,
) -> LayerModel:
    """Cluster the rows of one parent (``None`` for layer 1) into child topics.

    The model learns from ``layer.max_fit_samples`` rows (all, where there are fewer),
    taking the ``fit_rows`` first when given, and assigns the rest. Depends only on the rows'
    embeddings and the layer settings, so the pipeline's per-item cache keeps it
    across keyword (representation) and split-rule changes.
    """
    return layer.build(random_state).fit(embeddings, fit_rows=fit_rows)


def describe_group(
    parent: str | None,
    embeddings: NDArray[np.float32],
    labels: NDArray[np.intp],
    centroids: NDArray[np.float32],
    keyword_texts: Sequence[str],
    ids: Sequence[str],
    representation: RepresentationConfig,
    split_rule: SplitRule,
    last_layer: bool = False,
) -> list[TopicNode]:
    """Keywords, phrases, representatives and split flags of one parent's child topics.

    The cheap half of a group's fit (c-TF-IDF and a few matrix products, and per topic
    the gap statistic of the ``substructure`` flag on at most ``GAP_ROWS`` records, about
    0.1 s: only in the ``structure`` split mode, the one rule that reads it, and not at
    the ``last_layer``, whose topics are not split); run in process, never fanned out
    (see :func:`fans_out`).
    """
    n_topics = len(centroids)
    sizes = np.bincount(labels, minlength=n_topics)
    rows = describe_sample(labels, n_topics, representation.max_samples)
    embeddings, labels = embeddings[rows], labels[rows]
    texts = [keyword_texts[i] for i in rows]
    ids = [ids[i] for i in rows]
    rep = representation.build().fit(texts, labels, embeddings, centroids)
    nodes = [
        TopicNode(
            path=child_path(parent, t),
            size=int(sizes[t]),
            keywords=rep.keywords_.get(t, []),
            keyword_scores=rep.keyword_scores_.get(t, []),
            vocabulary=rep.ctfidf_keywords_.get(t, []),
            phrases=rep.phrases_.get(t, []),
            representative_ids=[str(ids[r]) for r in rep.representatives_.get(t, [])],
        )
        for t in range(n_topics)
    ]
    measure = split_rule.mode == "structure" and not last_layer
    gaps = [
        substructure_gap(embeddings[labels == t], seed=t)
        if measure and sizes[t] >= split_rule.min_size
        else None
        for t in range(n_topics)
    ]
    flag_siblings(nodes, dispersion(embeddings, labels, centroids), texts, split_rule, gaps)
    return nodes


def describe_sample(
    labels: NDArray[np.intp], n_topics: int, max_samples: int, seed: int = 0
) -> NDArray[np.intp]:
    """Rows that describe the topics: all of them up to ``max_samples``, else each topic's
    rows capped at an equal share of ``max_samples`` (seeded), so every topic, small ones
    included, keeps enough records for its keywords while the cost stays bounded."""
    if len(labels) <= max_samples:
        return np.arange(len(labels))
    cap = max(1, max_samples // max(1, n_topics))
    rng = np.random.default_rng(seed)
    parts = []
    for topic in range(n_topics):
        members = np.flatnonzero(labels == topic)
        parts.append(members if len(members) <= cap else rng.choice(members, cap, replace=False))
    return np.sort(np.concatenate(parts)) if parts else np.arange(0)


#: Per-group functions a map should run in the calling process: they cost less than
#: shipping their inputs to a worker.
IN_PROCESS: frozenset[Callable[..., Any]] = frozenset({describe_group})


def fans_out(
    func: Callable[..., Any], items: Mapping[str, Mapping[str, Any]], config: EnsembleConfig
) -> bool:
    """Whether a map of ``func`` over ``items`` (per-group keyword arguments) is worth
    worker processes: not for in-process functions, and not when the models learn from
    fewer than ``parallel_min_rows`` records in all (each worker pays UMAP's compilation
    first). A model learns from at most its layer's ``max_fit_samples`` rows; the rows
    it only assigns do not count."""
    if func in IN_PROCESS or len(items) < 2:
        return False
    learned = 0
    for kw in items.values():
        layer = kw.get("layer")
        n = len(kw["embeddings"])
        learned += n if layer is None else min(n, layer.max_fit_samples)
    return learned >= config.parallel_min_rows
