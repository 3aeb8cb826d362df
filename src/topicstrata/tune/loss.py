"""The tuning loss: one number per configuration, lower is better.

Per held-out fold ``f`` (the model never saw its records)::

    fold_loss_f = -(w_c·C_f + w_d·D_f + w_b·B_f + w_l·L_f) + w_o·O_f

and over the ``K`` folds::

    loss = mean_f(fold_loss_f) - w_s·S

- ``C_f`` NPMI of the fitted leaf topics' keywords, co-occurrence counted on the
  held-out fold's keyword corpus (whole documents). In [-1, 1].
- ``D_f`` topic diversity of those keywords (unique share of the top 10). In [0, 1].
- ``B_f`` size balance: normalized entropy of the held-out topic sizes at each
  level, averaged over levels. 1 = even sizes; one giant topic or a long tail of
  tiny ones drives it towards 0. A model with one topic scores 0.
- ``L_f`` harmonic mean over the given label columns of the NMI of column i with
  the tree cut at depth i (the weakest level dominates, so no level is traded for
  another); absent when no labels are given.
- ``O_f`` share of held-out records routed to an outlier path.
- ``S`` stability: every fold's model assigns the same probe records (fitted by
  none of them); mean pairwise ARI over folds and levels. In [-0.5, 1].

See ``docs/tuning.md`` for why each term is there.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import adjusted_rand_score

from topicstrata.ensemble import Ensemble
from topicstrata.evaluate import (
    cut_paths,
    is_outlier_path,
    level_agreement,
    npmi_coherence,
    outlier_share,
    topic_diversity,
)

logger = logging.getLogger(__name__)

__all__ = [
    "FoldScores",
    "LossWeights",
    "combine",
    "fold_loss",
    "level_harmonic_mean",
    "score_assignments",
    "score_fold",
    "size_balance",
    "stability_score",
    "topic_keywords",
]

TOPK = 10


class LossWeights(BaseModel):
    """Weights of the loss terms (all >= 0); see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    coherence: float = Field(1.0, ge=0)
    diversity: float = Field(0.5, ge=0)
    stability: float = Field(0.5, ge=0)
    balance: float = Field(0.5, ge=0)
    outliers: float = Field(1.0, ge=0)
    labels: float = Field(1.0, ge=0)


@dataclass(frozen=True)
class FoldScores:
    """The terms measured on one held-out fold."""

    coherence: float
    diversity: float
    balance: float
    outliers: float
    labels: float | None = None
    n_topics: int = 0

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items() if v is not None}


def topic_keywords(ensemble: Ensemble) -> list[list[str]]:
    """Keywords of the fitted model's leaf topics (outliers left out)."""
    entries = ensemble.mapping_.by_path()
    leaves = sorted(set(ensemble.assignments_["path"].astype(str)))
    return [
        list(entries[p].keywords)
        for p in leaves
        if not is_outlier_path(p) and p in entries and entries[p].keywords
    ]


def size_balance(
    paths: Sequence[str] | np.ndarray, n_levels: int, n_topics: Sequence[int]
) -> float:
    """Mean over levels of the normalized entropy of topic sizes.

    ``n_topics[d - 1]`` is the number of topics the model has at depth ``d``, so
    topics that received no held-out record count as empty (and lower the score).
    """
    values = np.asarray(paths, dtype=str)
    scores = []
    for depth in range(1, n_levels + 1):
        k = max(int(n_topics[depth - 1]), 1)
        cut = cut_paths(values, depth)
        _, counts = np.unique(cut, return_counts=True)
        if k < 2 or len(values) == 0:
            scores.append(0.0)
            continue
        p = counts / counts.sum()
        entropy = float(-(p * np.log(p)).sum())
        scores.append(min(entropy / math.log(max(k, len(counts))), 1.0))
    return float(np.mean(scores)) if scores else 0.0


def score_fold(
    assignments: pd.DataFrame,
    ensemble: Ensemble,
    tokens: Sequence[Sequence[str]],
    labels: Mapping[str, Sequence[str | None]] | None = None,
) -> FoldScores:
    """Score a model on records it was not fitted on.

    ``assignments`` is ``ensemble.predict`` on the held-out records (indexed by
    their ids); ``tokens`` their keyword tokens and ``labels`` their label
    columns, coarsest first, all in the same order.
    """
    fitted = ensemble.assignments_["path"].astype(str).to_numpy()
    n_levels = ensemble.n_layers_
    n_topics = [
        sum(not is_outlier_path(p) for p in np.unique(cut_paths(fitted, d)))
        for d in range(1, n_levels + 1)
    ]
    return score_assignments(
        assignments["path"].astype(str).to_numpy(),
        topic_keywords(ensemble),
        n_topics,
        tokens,
        labels,
    )


def score_assignments(
    paths: Sequence[str] | np.ndarray,
    topic_words: Sequence[Sequence[str]],
    n_topics: Sequence[int],
    tokens: Sequence[Sequence[str]],
    labels: Mapping[str, Sequence[str | None]] | None = None,
) -> FoldScores:
    """The fold terms from plain values: held-out ``paths``, the model's leaf
    ``topic_words``, its number of topics per level, and the held-out tokens."""
    paths = np.asarray(paths, dtype=str)
    words = [list(w) for w in topic_words if len(w)]
    coherence = math.nan
    if words and any(len(t) for t in tokens):
        coherence = npmi_coherence(words, tokens, topk=TOPK)
    if not math.isfinite(coherence):
        logger.info("no topic keyword pair occurs in the held-out fold; coherence scored 0")
        coherence = 0.0
    diversity = topic_diversity(words, topk=TOPK) if words else 0.0
    label_score = None
    if labels:
        rows = level_agreement(paths, labels)
        label_score = level_harmonic_mean([r["nmi"] for r in rows])
    return FoldScores(
        coherence=float(coherence),
        diversity=float(diversity),
        balance=size_balance(paths, len(n_topics), n_topics),
        outliers=outlier_share(paths) if len(paths) else 0.0,
        labels=label_score,
        n_topics=len(words),
    )


def level_harmonic_mean(values: Sequence[float]) -> float:
    """Harmonic mean of per-level agreement scores (0 if any level scores 0 or less).

    An arithmetic mean lets gains at deep levels pay for a loss at level 1; the harmonic
    mean, like F1, is pulled down by the weakest level, so a configuration must serve
    every level.
    """
    vals = [float(v) for v in values if math.isfinite(float(v))]
    if not vals or min(vals) <= 0.0:
        return 0.0
    return statistics.harmonic_mean(vals)


def fold_loss(scores: FoldScores, weights: LossWeights) -> float:
    """``-(w_c·C + w_d·D + w_b·B + w_l·L) + w_o·O`` for one fold."""
    good = (
        weights.coherence * scores.coherence
        + weights.diversity * scores.diversity
        + weights.balance * scores.balance
        + (weights.labels * scores.labels if scores.labels is not None else 0.0)
    )
    return -good + weights.outliers * scores.outliers


def stability_score(probe_paths: Sequence[Sequence[str]], n_levels: int) -> float:
    """Mean ARI over pairs of folds and levels of the probe records' paths."""
    if len(probe_paths) < 2 or n_levels < 1:
        return 0.0
    arrays = [np.asarray(p, dtype=str) for p in probe_paths]
    if len(arrays[0]) == 0:
        return 0.0
    scores = [
        adjusted_rand_score(cut_paths(a, depth), cut_paths(b, depth))
        for a, b in itertools.combinations(arrays, 2)
        for depth in range(1, n_levels + 1)
    ]
    return float(np.mean(scores))


def combine(folds: Sequence[FoldScores], stability: float, weights: LossWeights) -> float:
    """The loss of a configuration: mean fold loss minus the weighted stability."""
    if not folds:
        return math.inf
    mean = float(np.mean([fold_loss(f, weights) for f in folds]))
    return mean - weights.stability * stability
