"""Scores for a fitted topic tree: agreement with known labels, coherence, diversity.

Topic paths are strings such as ``"7"``, ``"7.2"``, ``"7.2.1"``; a component
``"-1"`` marks a record no layer could place at that depth (``"-1"``, ``"7.-1"``).

Choices, and why:

- **Agreement per level** compares label column i with the tree cut at depth i
  using scikit-learn's ``normalized_mutual_info_score`` (arithmetic mean
  normalisation, its default) and ``adjusted_rand_score``. Outliers are kept, not
  dropped: each distinct outlier path at that depth (``"-1"``, ``"7.-1"``) is one
  cluster of its own. Dropping them would let a model raise its score by refusing
  hard records. Records whose label is missing at a level are left out of that
  level only. ``n_topics`` counts the non-outlier topics at that depth.
- **Diversity** is OCTIS's ``TopicDiversity``: unique words among every topic's
  ``topk`` first words over ``topk x n_topics``. The default ``topk=10`` is
  OCTIS's default and what the BERTopic paper used for its published figures
  (its evaluation code passes the same ``topk`` to NPMI and diversity);
  Dieng et al. (2020), who defined the measure, used 25.
- **NPMI** is gensim's ``c_npmi``; see :mod:`topicstrata.evaluate.coherence`.
- **Keywords per level** (``keyword_levels``) score, at each depth i, the topics of
  the tree cut at depth i (the same cut the agreement uses: a topic that was not
  split further stands at the deeper levels too) with NPMI and diversity. A tree
  whose children repeat their parents' words, or whose fine topics rest on a few
  co-occurrences, shows it at the level where it happens, which the leaf figures
  (``npmi``, ``diversity``) average away.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from topicstrata.errors import ConfigError, InputError
from topicstrata.evaluate.coherence import npmi_coherence, npmi_per_topic

__all__ = [
    "cut_paths",
    "evaluate_assignments",
    "is_outlier_path",
    "keyword_levels",
    "level_agreement",
    "npmi_coherence",
    "npmi_per_topic",
    "outlier_share",
    "stability",
    "topic_diversity",
]

logger = logging.getLogger(__name__)

OUTLIER = "-1"


def is_outlier_path(path: str) -> bool:
    """Whether any component of ``path`` is the outlier marker ``-1``."""
    return OUTLIER in str(path).split(".")


def cut_paths(paths: Iterable[Any], depth: int) -> NDArray[np.str_]:
    """The tree cut at ``depth``: ``"7.2.1"`` -> ``"7"`` (1), ``"7.2"`` (2).

    A path shorter than ``depth`` (a topic that was not split further) stays as is.
    """
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
        raise ConfigError(f"cut_paths: depth={depth!r} must be an integer >= 1.")
    values = _as_path_array(paths)
    unique, inverse = np.unique(values, return_inverse=True)
    cut = np.array([".".join(p.split(".")[:depth]) for p in unique], dtype=np.str_)
    return cut[inverse.reshape(-1)] if len(values) else cut


def level_agreement(
    paths: Iterable[Any], labels: Mapping[str, Sequence[Any] | pd.Series]
) -> list[dict[str, Any]]:
    """NMI and ARI of label column i against the tree cut at depth i, i = 1..n.

    ``labels`` maps column name to one label per record, ordered coarse to fine.
    """
    values = _as_path_array(paths)
    if not labels:
        raise InputError("level_agreement: no label columns given; pass coarse to fine columns.")
    rows: list[dict[str, Any]] = []
    for level, (column, column_labels) in enumerate(labels.items(), start=1):
        truth = pd.Series(np.asarray(column_labels, dtype=object))
        if len(truth) != len(values):
            raise InputError(
                f"level_agreement: label column {column!r} has {len(truth)} values but "
                f"there are {len(values)} paths; pass one label per record, in path order."
            )
        known = truth.notna().to_numpy()
        if not known.all():
            logger.info(
                "level %d (%s): %d record(s) without a label left out",
                level,
                column,
                int((~known).sum()),
            )
        cut = cut_paths(values, level)[known]
        expected = truth[known].astype(str).to_numpy()
        if len(expected) == 0:
            raise InputError(f"level_agreement: label column {column!r} has no labels.")
        # Integer codes (hashing, O(n)): scikit-learn sorts string labels, several
        # times per score; at a million records that was most of the evaluate step.
        expected_codes = pd.factorize(expected)[0]
        cut_codes, cut_values = pd.factorize(cut)
        rows.append(
            {
                "level": level,
                "label_col": str(column),
                "nmi": float(normalized_mutual_info_score(expected_codes, cut_codes)),
                "ari": float(adjusted_rand_score(expected_codes, cut_codes)),
                "n_topics": int(sum(not is_outlier_path(str(p)) for p in cut_values)),
            }
        )
    return rows


def keyword_levels(
    paths: Iterable[Any],
    tree_keywords: Mapping[str, Sequence[str]],
    corpus_tokens: Sequence[Sequence[str]] | None = None,
    topk: int = 10,
    npmi_window: int | None = None,
) -> list[dict[str, Any]]:
    """NPMI and diversity of the keywords of the tree cut at depth i, i = 1..depth.

    ``paths`` are the records' leaf paths, ``tree_keywords`` every topic's keywords
    by path (all levels, as the mapping holds them). Per level: ``n_topics`` (the
    non-outlier topics of the cut), ``n_scored`` (those with keywords), ``npmi``
    (``None`` without ``corpus_tokens``), ``n_npmi`` (the topics it averages: NPMI needs
    two keywords found in the corpus) and ``diversity``; a score that cannot be
    computed is ``None``. NPMI is counted once over the topics of every level.
    """
    values = _as_path_array(paths)
    unique = np.unique(values)
    depth = max((len(str(p).split(".")) for p in unique), default=0)
    cuts: list[list[str]] = []
    for level in range(1, depth + 1):
        in_cut = {str(p) for p in cut_paths(unique, level)}
        cuts.append(sorted(p for p in in_cut if not is_outlier_path(p)))
    scored = sorted({p for cut in cuts for p in cut if tree_keywords.get(p)})
    npmi_of: dict[str, float] = {}
    if scored and corpus_tokens is not None:
        words = [list(tree_keywords[p]) for p in scored]
        scores = npmi_per_topic(words, corpus_tokens, topk=topk, window=npmi_window)
        npmi_of = dict(zip(scored, scores, strict=True))
    rows: list[dict[str, Any]] = []
    for level, topic_paths in enumerate(cuts, start=1):
        topics = [p for p in topic_paths if tree_keywords.get(p)]
        row: dict[str, Any] = {
            "level": level,
            "n_topics": len(topic_paths),
            "n_scored": len(topics),
            "npmi": None,
            "n_npmi": 0,
            "diversity": None,
        }
        if topics:
            row["diversity"] = _finite_or_none(
                topic_diversity([list(tree_keywords[p]) for p in topics], topk=topk)
            )
            finite = [npmi_of[p] for p in topics if p in npmi_of and math.isfinite(npmi_of[p])]
            row["n_npmi"] = len(finite)
            if finite:
                row["npmi"] = float(np.mean(finite))
        rows.append(row)
    return rows


def topic_diversity(topics: Sequence[Sequence[str]], topk: int = 10) -> float:
    """Share of unique words among the topics' ``topk`` first words (OCTIS).

    OCTIS raises when a topic has fewer than ``topk`` words; here such a topic
    contributes the words it has, and the denominator counts the words actually
    considered (equal to ``topk x n_topics`` whenever OCTIS would accept the input).
    """
    if isinstance(topk, bool) or not isinstance(topk, int | np.integer) or topk < 1:
        raise ConfigError(f"topic_diversity: topk={topk!r} must be an integer >= 1.")
    heads = [list(topic)[:topk] for topic in topics]
    if not heads:
        raise InputError("topic_diversity: no topics given; pass one list of top words per topic.")
    total = sum(len(head) for head in heads)
    if total == 0:
        raise InputError("topic_diversity: every topic is empty.")
    if total < topk * len(heads):  # normal for ``distinct`` keyword lists
        logger.info(
            "topic_diversity: some topics have fewer than topk=%d words; scored on %d words",
            topk,
            total,
        )
    return len({word for head in heads for word in head}) / total


def stability(
    labels_a: Mapping[Hashable, Any] | pd.Series | Sequence[Any],
    labels_b: Mapping[Hashable, Any] | pd.Series | Sequence[Any],
) -> float:
    """Adjusted Rand index of two assignments on the records both contain.

    Mappings and Series are aligned on their keys (record ids), so two runs over
    overlapping samples compare the records they share; plain sequences are
    compared position by position and must have equal length.
    """
    a, b = _as_series(labels_a), _as_series(labels_b)
    if not isinstance(labels_a, Mapping | pd.Series) or not isinstance(
        labels_b, Mapping | pd.Series
    ):
        if len(a) != len(b):
            raise InputError(
                f"stability: sequences of different lengths ({len(a)} vs {len(b)}); "
                "pass pandas Series or mappings indexed by record id to compare shared records."
            )
        b.index = a.index
    if not a.index.is_unique or not b.index.is_unique:
        raise InputError("stability: record ids must be unique in both assignments.")
    shared = a.index.intersection(b.index)
    if len(shared) == 0:
        raise InputError("stability: the two assignments share no record ids.")
    logger.debug("stability on %d shared records", len(shared))
    left = a.loc[shared].astype(str).to_numpy()
    right = b.loc[shared].astype(str).to_numpy()
    return float(adjusted_rand_score(left, right))


def outlier_share(paths: Iterable[Any]) -> float:
    """Share of records whose path holds an outlier marker at any depth."""
    values = _as_path_array(paths)
    if len(values) == 0:
        raise InputError("outlier_share: no paths given.")
    unique, counts = np.unique(values, return_counts=True)
    outliers = sum(int(c) for p, c in zip(unique, counts, strict=True) if is_outlier_path(p))
    return outliers / len(values)


def evaluate_assignments(
    paths: Iterable[Any],
    *,
    labels: Mapping[str, Sequence[Any] | pd.Series] | None = None,
    topic_words: Mapping[str, Sequence[str]] | Sequence[Sequence[str]] | None = None,
    corpus_tokens: Sequence[Sequence[str]] | None = None,
    reference_paths: Mapping[Hashable, Any] | pd.Series | Sequence[Any] | None = None,
    topk: int = 10,
    npmi_window: int | None = None,
    tree_keywords: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The ``strata evaluate --json`` object for one run's leaf paths.

    Always: ``levels`` (empty without ``labels``), ``npmi``, ``diversity``,
    ``keyword_levels`` (empty without ``tree_keywords``; see :func:`keyword_levels`),
    ``n_docs``, ``outlier_share``; ``stability`` (ARI of the leaf paths against
    ``reference_paths``) only when those are given. ``npmi`` needs ``topic_words``
    and ``corpus_tokens``, ``diversity`` needs ``topic_words``; a score that cannot
    be computed, or is NaN, is ``None`` (JSON ``null``). When ``topic_words`` maps
    paths to words, outlier paths are skipped. Every number is a plain float or int.
    """
    values = _as_path_array(paths)
    result: dict[str, Any] = {
        "levels": level_agreement(values, labels) if labels else [],
        "npmi": None,
        "diversity": None,
        "keyword_levels": (
            keyword_levels(values, tree_keywords, corpus_tokens, topk, npmi_window)
            if tree_keywords
            else []
        ),
        "n_docs": len(values),
        "outlier_share": outlier_share(values) if len(values) else None,
    }
    topics = _topic_lists(topic_words)
    if topics:
        result["diversity"] = _finite_or_none(topic_diversity(topics, topk=topk))
        if corpus_tokens is not None:
            result["npmi"] = _finite_or_none(
                npmi_coherence(topics, corpus_tokens, topk=topk, window=npmi_window)
            )
    if reference_paths is not None:
        current: pd.Series | NDArray[np.str_] = values
        if isinstance(reference_paths, Mapping | pd.Series) and isinstance(paths, pd.Series):
            current = paths.astype(str)
        result["stability"] = stability(current, reference_paths)
    return result


def _topic_lists(
    topic_words: Mapping[str, Sequence[str]] | Sequence[Sequence[str]] | None,
) -> list[list[str]]:
    if topic_words is None:
        return []
    if isinstance(topic_words, Mapping):
        return [
            list(words) for path, words in topic_words.items() if not is_outlier_path(str(path))
        ]
    return [list(words) for words in topic_words]


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _as_path_array(paths: Iterable[Any]) -> NDArray[np.str_]:
    if isinstance(paths, str):
        raise InputError("paths must be a sequence of topic paths, not one string.")
    array = np.asarray(list(paths) if not isinstance(paths, np.ndarray | pd.Series) else paths)
    if array.ndim != 1:
        raise InputError(f"paths must be one-dimensional, got shape {array.shape}.")
    if array.dtype == object and pd.isna(array).any():
        raise InputError("paths contain missing values; every record needs a path.")
    return array.astype(str)


def _as_series(values: Mapping[Hashable, Any] | pd.Series | Sequence[Any]) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.copy()
    if isinstance(values, Mapping):
        return pd.Series(dict(values), dtype=object)
    return pd.Series(list(values), dtype=object)
