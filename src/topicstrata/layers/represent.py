"""Topic representation: class-based TF-IDF keywords and phrases, representative records.

Counts come from scikit-learn's ``CountVectorizer`` over the keyword view
(space-joined lemmas); per-topic counts are one sparse product; weighting is
BERTopic's ``ClassTfidfTransformer`` (optionally BM25 and square-root damping of
frequent words).

Keywords and phrases can come from each topic's *core*: the ``core_share`` of its
records closest to its centroid in embedding space. Records on a topic's boundary are
the ones the clusterer was least sure of, and their words blur the keywords (HDBSCAN-based
BERTopic gets the same effect by leaving such records out as outliers): on BBC News
(k = 10..50) a core of 70% raises NPMI from .153 to .173 at equal diversity
(bench/README.md). The default is 1.0 (every record) because of what it costs a
hierarchy: the records nearest a parent's centroid crowd into one or two of its
sub-topics, so the parent's keywords drift towards a child's (on the seeded 3-level test
hierarchy, 0.7 moved each parent's defining word from first to second or third place).
Every record keeps its topic either way; only the keywords change.

Which words are *listed* is ``keyword_score``'s choice:

- ``"distinct"`` (default): a word qualifies when at least ``min_support`` of the topic's
  records use it and it is ``min_lift`` times more common there than among all the records
  described together (a parent's records, or every record at layer 1); qualifying words
  are ranked by their term of the Kullback-Leibler divergence of the topic from those
  records, ``p(w|t) log(p(w|t) / p(w))`` (p: the share of records using w). After them,
  scored 0, come the topic's *weak* words (more common there than around it, used by
  two or more of its records, below the support or lift bar; same rank), and if the list
  is still shorter than ``min_keywords``, its first c-TF-IDF words. Score 0 marks what
  ``Ensemble`` keeps only to give every topic ``min_keywords`` words (a one-word topic
  says little, and NPMI cannot score it).
  BERTopic's c-TF-IDF ranks frequent, corpus-wide words high wherever there are few
  classes to compare (the 2-6 siblings of a split topic) and lists words a handful of
  short records use; on banking77's short queries that gave NPMI -.18/-.07/-.06 and
  diversity .88/.37/.24 per level, on BBC News NPMI .148 (bench/README.md). BERTopic's
  ``MaximalMarginalRelevance`` and a ``KeyBERTInspired``-style rerank scored lower still
  on both corpora (measured, same file), and none of its representation models filters by
  support and lift, so this is a few lines of numpy over the same counts.
- ``"ctfidf"``: the ``top_n_words`` highest c-TF-IDF weights, as BERTopic lists them.

``ctfidf_keywords_`` always holds the c-TF-IDF list: the split flags and the tuning loss
score a topic's vocabulary by it, whichever list is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import CountVectorizer

logger = logging.getLogger(__name__)


class TopicRepresentation(BaseEstimator):
    """Learn top keywords, phrases and representative records per topic.

    Records labelled ``-1`` (outliers) are left out of every topic.
    """

    def __init__(
        self,
        top_n_words: int = 10,
        n_phrases: int = 5,
        n_representatives: int = 5,
        phrase_ngram_range: tuple[int, int] = (2, 3),
        min_df: int | float = 2,
        max_features: int | None = 100_000,
        bm25_weighting: bool = True,
        reduce_frequent_words: bool = True,
        core_share: float = 1.0,
        keyword_score: Literal["distinct", "ctfidf"] = "distinct",
        min_support: float = 0.05,
        min_lift: float = 1.5,
        min_keywords: int = 2,
    ) -> None:
        self.top_n_words = top_n_words
        self.n_phrases = n_phrases
        self.n_representatives = n_representatives
        self.phrase_ngram_range = phrase_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.bm25_weighting = bm25_weighting
        self.reduce_frequent_words = reduce_frequent_words
        self.core_share = core_share
        self.keyword_score = keyword_score
        self.min_support = min_support
        self.min_lift = min_lift
        self.min_keywords = min_keywords

    def fit(
        self,
        keyword_texts: Sequence[str],
        labels: ArrayLike,
        embeddings: NDArray[np.float32] | None = None,
        centroids: NDArray[np.float32] | None = None,
    ) -> Self:
        labels = np.asarray(labels, dtype=np.intp)
        texts = list(keyword_texts)
        topics = np.unique(labels[labels >= 0])
        if not 0.0 < self.core_share <= 1.0:
            raise ValueError(f"core_share must be in (0, 1], got {self.core_share!r}.")
        if self.keyword_score not in ("distinct", "ctfidf"):
            raise ValueError(
                f"keyword_score must be 'distinct' or 'ctfidf', got {self.keyword_score!r}."
            )
        self.topics_ = [int(t) for t in topics]
        core = _core_labels(labels, topics, embeddings, centroids, self.core_share)
        self.ctfidf_keywords_, ctfidf_scores, counts, vocab = self._top_terms(
            texts, core, topics, (1, 1), self.top_n_words
        )
        if self.keyword_score == "ctfidf" or counts is None:
            self.keywords_, self.keyword_scores_ = self.ctfidf_keywords_, ctfidf_scores
        else:
            self.keywords_, self.keyword_scores_ = self._distinct_terms(counts, vocab, core, topics)
        self.phrases_, _, _, _ = self._top_terms(
            texts, core, topics, self.phrase_ngram_range, self.n_phrases
        )
        self.representatives_ = _representatives(
            labels, topics, embeddings, centroids, self.n_representatives
        )
        return self

    def _top_terms(
        self,
        texts: list[str],
        labels: NDArray[np.intp],
        topics: NDArray[np.intp],
        ngram_range: tuple[int, int],
        top_n: int,
    ) -> tuple[
        dict[int, list[str]], dict[int, list[float]], sp.csr_matrix | None, NDArray[np.str_]
    ]:
        """c-TF-IDF's ``top_n`` terms per topic, with the records' term counts and the
        vocabulary (``None`` and empty when there is no vocabulary to weigh)."""
        from bertopic.vectorizers import ClassTfidfTransformer  # deferred: heavy import

        empty: dict[int, list[str]] = {int(t): [] for t in topics}
        nothing = np.array([], dtype=str)
        if top_n <= 0 or len(topics) == 0:
            return empty, {int(t): [] for t in topics}, None, nothing
        n_docs = len(texts)
        min_df = self.min_df if isinstance(self.min_df, float) or n_docs >= 2 * self.min_df else 1
        vectorizer = CountVectorizer(
            ngram_range=ngram_range,
            min_df=min_df,
            max_features=self.max_features,
            token_pattern=r"(?u)\b\w[\w\-]*\w\b|\b\w\b",
            lowercase=False,
        )
        try:
            counts = vectorizer.fit_transform(texts)
        except ValueError:  # empty vocabulary (e.g. all texts blank)
            return empty, {int(t): [] for t in topics}, None, nothing
        vocab = vectorizer.get_feature_names_out()
        if len(vocab) < 2:
            # ClassTfidfTransformer squeezes a one-term matrix to a scalar and fails;
            # with one term there is nothing to weigh: each topic that uses it gets it.
            used = {int(t) for t in labels[(labels >= 0) & (counts.toarray()[:, 0] > 0)]}
            only = {int(t): ([str(vocab[0])] if int(t) in used else []) for t in topics}
            return only, {t: [1.0] * len(w) for t, w in only.items()}, None, nothing
        mask = labels >= 0
        index = np.searchsorted(topics, labels[mask])
        onehot = sp.csr_matrix(
            (np.ones(mask.sum()), (index, np.flatnonzero(mask))), shape=(len(topics), n_docs)
        )
        per_topic = (onehot @ counts).tocsr()
        ctfidf = ClassTfidfTransformer(
            bm25_weighting=self.bm25_weighting,
            reduce_frequent_words=self.reduce_frequent_words,
        )
        weights = ctfidf.fit_transform(per_topic).tocsr()
        words: dict[int, list[str]] = {}
        scores: dict[int, list[float]] = {}
        for row, topic in enumerate(topics):
            start, end = weights.indptr[row], weights.indptr[row + 1]
            cols, vals = weights.indices[start:end], weights.data[start:end]
            keep = vals > 0
            cols, vals = cols[keep], vals[keep]
            # Sort by weight, then by term for deterministic ties.
            order = np.lexsort((vocab[cols], -vals))[:top_n]
            words[int(topic)] = [str(vocab[c]) for c in cols[order]]
            scores[int(topic)] = [round(float(v), 6) for v in vals[order]]
        return words, scores, counts.tocsr(), vocab

    def _distinct_terms(
        self,
        counts: sp.csr_matrix,
        vocab: NDArray[np.str_],
        labels: NDArray[np.intp],
        topics: NDArray[np.intp],
    ) -> tuple[dict[int, list[str]], dict[int, list[float]]]:
        """The ``distinct`` keywords (module docstring): support and lift filter, ranked by
        each word's term of the topic's KL divergence from the records described."""
        used = counts.copy()
        used.data[:] = 1.0  # a record uses a word or not; repeats in one record count once
        reference = np.asarray(used.mean(axis=0)).ravel()
        words: dict[int, list[str]] = {}
        scores: dict[int, list[float]] = {}
        for topic in topics:
            rows = np.flatnonzero(labels == topic)
            if len(rows) == 0:  # every record of the topic left out of its core
                words[int(topic)], scores[int(topic)] = [], []
                continue
            users = np.asarray(used[rows].sum(axis=0)).ravel()  # records using each word
            share = users / len(rows)
            above = share > reference  # a positive KL term
            kl = np.zeros_like(share)
            kl[above] = share[above] * np.log(share[above] / reference[above])
            strong = above & (share >= self.min_support) & (share >= self.min_lift * reference)
            # Weak words: more common in the topic than around it, used by two or more of
            # its records, below the support or lift bar. Listed after the qualifying ones
            # with score 0, up to ``top_n_words``: what a short list is filled from first.
            weak = above & ~strong & (users >= 2)
            listed: list[str] = []
            listed_scores: list[float] = []
            for mask, scored in ((strong, True), (weak, False)):
                cols = np.flatnonzero(mask)
                order = np.lexsort((vocab[cols], -kl[cols]))[: self.top_n_words - len(listed)]
                listed += [str(vocab[c]) for c in cols[order]]
                listed_scores += [float(kl[c]) if scored else 0.0 for c in cols[order]]
            # Still fewer than ``min_keywords``: the topic's c-TF-IDF words, scored 0 too.
            fill = [w for w in self.ctfidf_keywords_.get(int(topic), []) if w not in listed]
            for word in fill[: max(0, min(self.min_keywords, self.top_n_words) - len(listed))]:
                listed.append(word)
                listed_scores.append(0.0)
            words[int(topic)] = listed
            scores[int(topic)] = [round(v, 6) for v in listed_scores]
        return words, scores


def _nearest(
    rows: NDArray[np.intp],
    embeddings: NDArray[np.float32] | None,
    centroid: NDArray[np.float32] | None,
    n: int,
) -> NDArray[np.intp]:
    """The ``n`` of ``rows`` most similar to ``centroid`` (the first ``n`` without vectors)."""
    if embeddings is not None and centroid is not None and len(rows) > n:
        sims = embeddings[rows] @ centroid
        rows = rows[np.argsort(-sims, kind="stable")[:n]]
    return rows[:n]


def _core_labels(
    labels: NDArray[np.intp],
    topics: NDArray[np.intp],
    embeddings: NDArray[np.float32] | None,
    centroids: NDArray[np.float32] | None,
    share: float,
) -> NDArray[np.intp]:
    """``labels`` with every record outside its topic's core set to -1.

    A topic's core is the ``ceil(share * size)`` records most similar to its centroid
    (at least one). Without embeddings or centroids every record is core.
    """
    if share >= 1.0 or embeddings is None or centroids is None:
        return labels
    core = np.full_like(labels, -1)
    for topic in topics:
        rows = np.flatnonzero(labels == topic)
        core[
            _nearest(rows, embeddings, centroids[topic], max(1, int(np.ceil(share * len(rows)))))
        ] = topic
    return core


def _representatives(
    labels: NDArray[np.intp],
    topics: NDArray[np.intp],
    embeddings: NDArray[np.float32] | None,
    centroids: NDArray[np.float32] | None,
    n: int,
) -> dict[int, list[int]]:
    """Row indices of the records closest to each topic's centroid (or the first rows)."""
    return {
        int(topic): [
            int(r)
            for r in _nearest(
                np.flatnonzero(labels == topic),
                embeddings,
                None if centroids is None else centroids[topic],
                n,
            )
        ]
        for topic in topics
    }
