"""NPMI topic coherence, computed as gensim's ``c_npmi`` (and so OCTIS) computes it.

gensim's ``CoherenceModel(coherence="c_npmi")`` is the reference the topic-model
literature reports (OCTIS wraps it; the BERTopic paper used OCTIS). It is a
pipeline of four parts, each mirrored here so published numbers can be compared:

- segmentation ``s_one_one``: every ordered pair of distinct positions (i, j) in a
  topic's top words; NPMI is symmetric, so the mean over ordered pairs equals the
  mean over unordered ones;
- probability estimation ``p_boolean_sliding_window``: a "virtual document" is each
  window of ``window`` consecutive tokens of a text (a text shorter than the window
  is one virtual document, an empty text too); P(w) and P(w1, w2) are the shares of
  virtual documents holding the word(s);
- confirmation ``log_ratio_measure(normalize=True)`` with ``EPSILON = 1e-12``::

      npmi(w1, w2) = log((P(w1, w2) + eps) / (P(w1) P(w2))) / -log(P(w1, w2) + eps)

- aggregation: arithmetic mean over the pairs of a topic, then over topics.

``window=None`` uses whole documents instead of windows (boolean document
co-occurrence), which equals gensim ``c_npmi`` with a window longer than every text.

Two gensim details are reproduced on purpose, because they move published numbers:

- gensim's ``WordOccurrenceAccumulator`` slides its window incrementally and, when
  the token leaving the window also occurs elsewhere inside it, drops that word
  from the window until it enters again at the right edge. Under that rule a word
  counts in window ``i`` (the one starting at ``i``) iff its latest occurrence ``q``
  at or before the window's end lies in the window and it has no occurrence in
  ``[max(0, q - window + 1), i - 1]``. :func:`_window_incidence` builds exactly that.
- Topic words that never occur in the corpus are dropped from the topic before it
  is cut to its ``topk`` first words (gensim 4 drops tokens missing from the
  dictionary built from the same texts). Unlike gensim, which cuts all topics only
  when the first topic is longer than ``topn``, every topic is cut on its own.

Consequences worth knowing: with eps = 1e-12 a pair that never co-occurs scores
``-1 + log(P(w1) P(w2)) / log(eps)``, above -1 (about -0.95 for two words in half
the documents), and a pair that always co-occurs scores just under 1.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from topicstrata.errors import ConfigError, InputError

__all__ = ["EPSILON", "npmi_coherence", "npmi_per_topic"]

logger = logging.getLogger(__name__)

EPSILON = 1e-12
"""gensim's ``direct_confirmation_measure.EPSILON``."""


def npmi_per_topic(
    topics: Sequence[Sequence[str]],
    corpus_tokens: Iterable[Sequence[str]],
    topk: int = 10,
    window: int | None = None,
) -> list[float]:
    """NPMI of each topic: the mean over pairs of its ``topk`` first corpus words.

    A topic left with fewer than two words that occur in the corpus scores NaN
    (gensim would raise or return NaN for the whole model).
    """
    _check_params(topk, window)
    topic_lists = [list(topic) for topic in topics]
    if not topic_lists:
        raise InputError("npmi: no topics given; pass one list of top words per topic.")
    candidates = {w: i for i, w in enumerate(dict.fromkeys(w for t in topic_lists for w in t))}
    doc_lengths, token_ids = _encode_corpus(corpus_tokens, candidates)
    seen = np.zeros(len(candidates), dtype=bool)
    seen[token_ids[token_ids >= 0]] = True

    kept = [[candidates[w] for w in topic if seen[candidates[w]]][:topk] for topic in topic_lists]
    n_missing = sum(not seen[candidates[w]] for w in candidates)
    if n_missing:
        logger.info("npmi: %d topic word(s) never occur in the corpus; dropped", n_missing)

    relevant = np.unique(np.fromiter((i for t in kept for i in t), dtype=np.int64))
    remap = np.full(len(candidates) + 1, -1, dtype=np.int64)  # last slot maps -1 -> -1
    remap[relevant] = np.arange(len(relevant))
    incidence = _window_incidence(doc_lengths, remap[token_ids], len(relevant), window)
    n_windows = incidence.shape[0]
    occurrences = np.asarray(incidence.sum(axis=0)).ravel()
    co_occurrences = (incidence.T @ incidence).tocsr()

    scores = []
    for topic_index, ids in enumerate(kept):
        if len(ids) < 2:
            logger.warning(
                "npmi: topic %d has %d word(s) found in the corpus; scored NaN",
                topic_index,
                len(ids),
            )
            scores.append(math.nan)
            continue
        local = remap[np.asarray(ids)]
        scores.append(_topic_npmi(local, occurrences, co_occurrences, n_windows))
    return scores


def npmi_coherence(
    topics: Sequence[Sequence[str]],
    corpus_tokens: Iterable[Sequence[str]],
    topk: int = 10,
    window: int | None = None,
) -> float:
    """Mean NPMI over topics (gensim ``c_npmi``; see the module docstring).

    ``window=None`` counts co-occurrence within whole documents; ``window=10`` is
    gensim's and OCTIS's default, the setting the BERTopic paper reported. Topics
    scored NaN (fewer than two corpus words) are left out of the mean; NaN if none
    is left.
    """
    scores = np.asarray(npmi_per_topic(topics, corpus_tokens, topk=topk, window=window))
    finite = scores[np.isfinite(scores)]
    return float(finite.mean()) if finite.size else math.nan


def _check_params(topk: int, window: int | None) -> None:
    if isinstance(topk, bool) or not isinstance(topk, int | np.integer) or topk < 2:
        raise ConfigError(f"npmi: topk={topk!r} must be an integer >= 2 (NPMI scores word pairs).")
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1
    ):
        raise ConfigError(
            f"npmi: window={window!r} must be None (whole documents) or an integer >= 1."
        )


def _encode_corpus(
    corpus_tokens: Iterable[Sequence[str]], vocabulary: dict[str, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Document lengths and every token's id in ``vocabulary`` (-1 when absent)."""
    docs = list(corpus_tokens)
    if not docs:
        raise InputError("npmi: corpus_tokens is empty; pass the tokenized reference corpus.")
    if any(isinstance(doc, str) for doc in docs):
        raise InputError(
            "npmi: corpus_tokens must hold token lists, got a string; split the texts first."
        )
    lengths = [len(doc) for doc in docs]
    get = vocabulary.get
    ids = np.fromiter(
        (get(word, -1) for doc in docs for word in doc), dtype=np.int64, count=sum(lengths)
    )
    return np.asarray(lengths, dtype=np.int64), ids


def _window_incidence(
    doc_lengths: NDArray[np.int64],
    token_ids: NDArray[np.int64],
    n_words: int,
    window: int | None,
) -> sp.csr_matrix:
    """Binary (virtual document x word) matrix, gensim's boolean sliding window.

    ``token_ids`` holds each token's column (-1 for tokens not scored).
    ``window=None`` makes every document one virtual document.
    """
    doc_of_token = np.repeat(np.arange(len(doc_lengths)), doc_lengths)
    starts = np.concatenate(([0], np.cumsum(doc_lengths)[:-1]))
    position = np.arange(len(token_ids)) - starts[doc_of_token]
    if window is None:
        n_virtual = np.ones(len(doc_lengths), dtype=np.int64)
    else:
        n_virtual = np.maximum(1, doc_lengths - window + 1)
    offsets = np.concatenate(([0], np.cumsum(n_virtual)[:-1]))

    keep = token_ids >= 0
    doc, pos, word = doc_of_token[keep], position[keep], token_ids[keep]
    # Sort occurrences by (document, word, position) to see each word's neighbours.
    order = np.lexsort((pos, word, doc))
    doc, pos, word = doc[order], pos[order], word[order]
    length = doc_lengths[doc]

    if window is None:
        first = last = np.zeros(len(doc), dtype=np.int64)
    else:
        new_group = np.append(True, (doc[1:] != doc[:-1]) | (word[1:] != word[:-1]))
        group = np.cumsum(new_group) - 1  # one id per (document, word)
        same_as_next = np.append(~new_group[1:], False)
        next_pos = np.where(same_as_next, np.append(pos[1:], 0), np.iinfo(np.int64).max // 2)
        lo = np.maximum(0, pos - window + 1)
        # First occurrence of the same word at or after ``lo`` (gensim's window quirk).
        scale = int(doc_lengths.max()) + 1
        key = group * scale + pos
        first_at = pos[np.searchsorted(key, group * scale + lo)]
        hi = np.minimum(np.minimum(first_at, next_pos - window), length - window)
        short = length <= window  # one virtual document holding the whole text
        first = np.where(short, 0, lo)
        last = np.where(short, 0, hi)

    count = np.maximum(last - first + 1, 0)
    run_start = np.cumsum(count) - count
    step = np.arange(int(count.sum())) - np.repeat(run_start, count)
    rows = np.repeat(offsets[doc] + first, count) + step
    cols = np.repeat(word, count)
    shape = (int(n_virtual.sum()), n_words)
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
    matrix.data[:] = 1.0  # repeated words in one virtual document were summed; keep presence
    return matrix


def _topic_npmi(
    ids: NDArray[np.int64],
    occurrences: NDArray[np.float64],
    co_occurrences: sp.csr_matrix,
    n_windows: int,
) -> float:
    p_word = occurrences[ids] / n_windows
    p_pair = co_occurrences[ids][:, ids].toarray() / n_windows
    log_ratio = np.log((p_pair + EPSILON) / np.outer(p_word, p_word))
    npmi = log_ratio / -np.log(p_pair + EPSILON)
    off_diagonal = ~np.eye(len(ids), dtype=bool)
    return float(npmi[off_diagonal].mean())
