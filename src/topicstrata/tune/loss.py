"""The tuning loss: one number per configuration, lower is better.

Per held-out fold ``f`` (the model never saw its records)::

    fold_loss_f = -(w_c·C_f + w_d·D_f + w_b·B_f + w_w·W_f + w_l·L_f) + w_o·O_f

and over the ``K`` folds::

    loss = mean_f(fold_loss_f) - w_s·S

- ``C_f`` NPMI of the fitted topics' keywords, co-occurrence counted on the
  held-out fold's keyword corpus (whole documents): the mean over the topics of
  each level (the tree cut at depth d), then over levels. In [-1, 1].
- ``D_f`` topic diversity of the topics' keywords (unique share of the top 10),
  per level, then averaged over levels. In [0, 1].
- ``B_f`` size balance: normalized entropy of the held-out topic sizes at each
  level, averaged over levels. 1 = even sizes; one giant topic or a long tail of
  tiny ones drives it towards 0. A model with one topic scores 0.
- ``L_f`` harmonic mean over the given label columns of the NMI of column i with
  the tree cut at depth i (the weakest level dominates, so no level is traded for
  another); absent when no labels are given.
- ``W_f`` word gain: nats per word that a held-out record's topic tells about its
  words beyond the corpus's word frequencies, each record counted once
  (:func:`word_gain`), mean over levels.
  The only term that does not fall as topics multiply; without it the loss ranked
  configurations against the truth (``bench/loss_truth.py``).
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
    "level_keywords",
    "level_topics",
    "score_assignments",
    "score_fold",
    "size_balance",
    "stability_score",
    "word_gain",
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
    #: 8, with word gain counted per record: Spearman of the loss with held-out NMI over
    #: the 40 random configurations of bench/loss_truth.py's two studies, +0.56 / +0.28
    #: on Amazon, +0.48 / +0.65 on 20NG, +0.42 on synthetic data (weight 4 per token:
    #: +0.59 / +0.29, +0.12 / +0.49, +0.42; no word gain: -0.73 / -0.81, +0.32 / +0.41,
    #: +0.21). Chosen among 4..16 on those same studies (docs/tuning.md).
    word_gain: float = Field(8.0, ge=0)


@dataclass(frozen=True)
class FoldScores:
    """The terms measured on one held-out fold."""

    coherence: float
    diversity: float
    balance: float
    outliers: float
    labels: float | None = None
    n_topics: int = 0
    #: :func:`word_gain` of the fold (``None``: not measured, no part of the loss).
    word_gain: float | None = None
    #: NMI of label column i with the tree cut at depth i (``labels`` is their harmonic
    #: mean); reported as ``nmi_l1``, ``nmi_l2``, ... and never part of the loss itself.
    label_nmi: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, float]:
        out = {k: float(v) for k, v in asdict(self).items() if v is not None and k != "label_nmi"}
        return out | {f"nmi_l{i}": float(v) for i, v in enumerate(self.label_nmi, start=1)}


def level_topics(ensemble: Ensemble) -> list[list[str]]:
    """The fitted model's topic paths at each depth (the tree cut at d), outliers left out.

    A topic that was not split stays in the levels below it, as it does for the
    label and size terms.
    """
    fitted = ensemble.assignments_["path"].astype(str).to_numpy()
    return [
        [p for p in sorted(set(cut_paths(fitted, depth))) if not is_outlier_path(p)]
        for depth in range(1, ensemble.n_layers_ + 1)
    ]


def level_keywords(
    ensemble: Ensemble, topics: Sequence[Sequence[str]] | None = None
) -> list[list[list[str]]]:
    """The words the loss scores for the topics at each depth (``topics``: ``level_topics``,
    if known): each topic's c-TF-IDF ``vocabulary``, the lists the loss was checked
    against the truth with (docs/tuning.md), whichever keywords it shows; its mapping
    keywords for a model saved without one."""
    entries = ensemble.mapping_.by_path()
    nodes = ensemble.tree_.nodes
    levels = level_topics(ensemble) if topics is None else topics
    words = [
        [
            list((nodes[p].vocabulary if p in nodes else []) or entries[p].keywords)
            for p in level
            if p in entries
        ]
        for level in levels
    ]
    return [[w for w in level if w] for level in words]


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
    topics = level_topics(ensemble)
    return score_assignments(
        assignments["path"].astype(str).to_numpy(),
        level_keywords(ensemble, topics),
        [len(level) for level in topics],
        tokens,
        labels,
    )


def score_assignments(
    paths: Sequence[str] | np.ndarray,
    level_words: Sequence[Sequence[Sequence[str]]],
    n_topics: Sequence[int],
    tokens: Sequence[Sequence[str]],
    labels: Mapping[str, Sequence[str | None]] | None = None,
) -> FoldScores:
    """The fold terms from plain values: held-out ``paths``, the keywords of the
    model's topics at each level (``level_words[d - 1]``, see ``level_keywords``),
    its number of topics per level, and the held-out tokens.

    Coherence and diversity are scored per level and averaged, like the label,
    balance and stability terms: a hierarchy is read level by level. Scored on the
    leaves alone, they would count a child sharing its parent's words as a
    redundant topic, and penalize every split (on synthetic data, a 3-level
    config that beat the defaults by .09 NMI at level 1 lost on leaf diversity).
    """
    paths = np.asarray(paths, dtype=str)
    levels = [[list(w) for w in words if len(w)] for words in level_words]
    levels = [words for words in levels if words]
    coherence = math.nan
    if levels and any(len(t) for t in tokens):
        per_level = [npmi_coherence(words, tokens, topk=TOPK) for words in levels]
        finite = [c for c in per_level if math.isfinite(c)]
        coherence = float(np.mean(finite)) if finite else math.nan
    if not math.isfinite(coherence):
        logger.info("no topic keyword pair occurs in the held-out fold; coherence scored 0")
        coherence = 0.0
    diversity = float(np.mean([topic_diversity(w, topk=TOPK) for w in levels])) if levels else 0.0
    label_score = None
    label_nmi: tuple[float, ...] = ()
    if labels:
        label_nmi = tuple(float(r["nmi"]) for r in level_agreement(paths, labels))
        label_score = level_harmonic_mean(label_nmi)
    return FoldScores(
        coherence=float(coherence),
        diversity=diversity,
        balance=size_balance(paths, len(n_topics), n_topics),
        outliers=outlier_share(paths) if len(paths) else 0.0,
        labels=label_score,
        n_topics=len(levels[-1]) if levels else 0,
        label_nmi=label_nmi,
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
    """``-(w_c·C + w_d·D + w_b·B + w_w·W + w_l·L) + w_o·O`` for one fold."""
    good = (
        weights.coherence * scores.coherence
        + weights.diversity * scores.diversity
        + weights.balance * scores.balance
        + (weights.labels * scores.labels if scores.labels is not None else 0.0)
        + (weights.word_gain * scores.word_gain if scores.word_gain is not None else 0.0)
    )
    return -good + weights.outliers * scores.outliers


#: Dirichlet prior of :func:`word_gain` (in word occurrences, each word counted once per
#: record): a topic's word frequencies are pulled towards the corpus's as if it held this
#: many more occurrences of it (Zhai and Lafferty's smoothing; 1,000-2,000 is their usual
#: range).
WORD_GAIN_PRIOR = 1000.0


def word_gain(
    train_paths: Sequence[str] | np.ndarray,
    train_tokens: Sequence[Sequence[str]],
    test_paths: Sequence[str] | np.ndarray,
    test_tokens: Sequence[Sequence[str]],
    n_levels: int,
) -> float:
    """What a held-out record's topic says about its words: mean over levels, and over
    held-out records, of the record's mean ``log p(w | topic) - log p(w)`` over its
    distinct words (nats), where ``p(w | topic)`` is the topic's word distribution over
    its training records with each word counted once per record, Dirichlet-smoothed
    towards the corpus's ``p(w)`` (counted the same way).

    A held-out likelihood: a split that separates records with different words raises
    it; a split of a homogeneous topic lowers it (each half estimates the same
    frequencies from fewer records). Every record counts once, on both sides, however
    long it is: counted by tokens, the 1% longest posts of 20 Newsgroups hold 31% of its
    tokens, and the term then followed where a few posts fell (its ranking of the same
    40 configurations on two samples agreed at Spearman -0.08; bench/README). Outlier
    records, and words no training record has, are left out. Written here because the
    held-out likelihood of a hard clustering's word distributions is not in
    scikit-learn or gensim.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    train_paths = np.asarray(train_paths, dtype=str)
    test_paths = np.asarray(test_paths, dtype=str)
    keep = np.array([not is_outlier_path(p) for p in test_paths], dtype=bool)
    if not keep.any() or not any(len(t) for t in train_tokens):
        return 0.0
    vectorizer = CountVectorizer(analyzer=lambda tokens: tokens, binary=True)
    train = vectorizer.fit_transform(train_tokens).tocsr()
    test = vectorizer.transform([test_tokens[int(i)] for i in np.flatnonzero(keep)]).tocoo()
    if test.nnz == 0:
        return 0.0
    n_test = test.shape[0]
    counts = np.asarray(train.sum(axis=0)).ravel()
    background = (counts + 1.0) / (counts.sum() + len(counts))
    gains = []
    for depth in range(1, n_levels + 1):
        topics, train_codes = np.unique(cut_paths(train_paths, depth), return_inverse=True)
        index = {t: i for i, t in enumerate(topics)}
        test_topics = cut_paths(test_paths[keep], depth)
        test_codes = np.array([index.get(t, -1) for t in test_topics])
        member = sparse.csr_matrix(
            (np.ones(len(train_codes)), (train_codes, np.arange(len(train_codes)))),
            shape=(len(topics), len(train_codes)),
        )
        topic_words = (member @ train).tocsr()
        sizes = np.asarray(topic_words.sum(axis=1)).ravel()
        rows = test_codes[test.row]
        known = rows >= 0
        if not known.any():
            continue
        r, w = rows[known], test.col[known]
        in_topic = np.asarray(topic_words[r, w]).ravel()
        p_topic = (in_topic + WORD_GAIN_PRIOR * background[w]) / (sizes[r] + WORD_GAIN_PRIOR)
        gain = np.log(p_topic) - np.log(background[w])
        record = test.row[known]
        words = np.bincount(record, minlength=n_test)
        per_record = np.bincount(record, weights=gain, minlength=n_test)[words > 0]
        gains.append(float((per_record / words[words > 0]).mean()))
    return float(np.mean(gains)) if gains else 0.0


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
