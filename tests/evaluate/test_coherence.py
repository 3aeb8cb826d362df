"""NPMI against values computed by hand from gensim's c_npmi formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from topicstrata.errors import ConfigError, InputError
from topicstrata.evaluate import npmi_coherence, npmi_per_topic

EPS = 1e-12


def npmi(p_pair: float, p_first: float, p_second: float) -> float:
    """gensim's normalised log-ratio measure for one pair."""
    return math.log((p_pair + EPS) / (p_first * p_second)) / -math.log(p_pair + EPS)


# a in 3 of 4 documents, b and c in 2; a&b in 2, a&c in 2, b&c in 1; d alone.
CORPUS = [["a", "b", "c"], ["a", "b"], ["a", "c"], ["d"]]


def test_document_cooccurrence_matches_hand_computation():
    expected_ab = npmi(2 / 4, 3 / 4, 2 / 4)
    expected_ac = npmi(2 / 4, 3 / 4, 2 / 4)
    expected_bc = npmi(1 / 4, 2 / 4, 2 / 4)
    expected_ad = npmi(0 / 4, 3 / 4, 1 / 4)
    scores = npmi_per_topic([["a", "b", "c"], ["a", "d"]], CORPUS)
    assert scores[0] == pytest.approx((expected_ab + expected_ac + expected_bc) / 3, abs=1e-12)
    assert scores[1] == pytest.approx(expected_ad, abs=1e-12)
    assert npmi_coherence([["a", "b", "c"], ["a", "d"]], CORPUS) == pytest.approx(
        np.mean(scores), abs=1e-12
    )


def test_repeated_tokens_count_once_per_document():
    doubled = [doc * 3 for doc in CORPUS]
    assert npmi_per_topic([["a", "b", "c"]], doubled) == pytest.approx(
        npmi_per_topic([["a", "b", "c"]], CORPUS), abs=1e-12
    )


def test_always_cooccurring_pair_scores_one():
    corpus = [["x", "y"], ["y", "x", "z"], ["z"], ["w"]]
    assert npmi_coherence([["x", "y"]], corpus) == pytest.approx(1.0, abs=1e-9)


def test_never_cooccurring_pair_scores_minus_one_up_to_gensims_epsilon():
    corpus = [["x"], ["y"], ["x", "z"], ["y", "z"]]
    score = npmi_coherence([["x", "y"]], corpus)
    # log(eps / (p_x p_y)) / -log(eps): -1 in the limit eps -> 0; gensim's eps leaves -0.95.
    assert score == pytest.approx(-1 + math.log(0.5 * 0.5) / math.log(EPS), abs=1e-12)
    assert -1 < score < -0.94


def test_sliding_window_reproduces_gensims_incremental_window():
    # Windows of 3: [a a b], [a b c]. gensim drops "a" from the second window when
    # the first "a" leaves it, so a and c never share a window.
    corpus = [["a", "a", "b", "c"]]
    scores = npmi_per_topic([["a", "c"], ["b", "c"], ["a", "b"]], corpus, window=3)
    assert scores[0] == pytest.approx(npmi(0 / 2, 1 / 2, 1 / 2), abs=1e-12)
    assert scores[1] == pytest.approx(npmi(1 / 2, 2 / 2, 1 / 2), abs=1e-12)
    assert scores[2] == pytest.approx(npmi(1 / 2, 1 / 2, 2 / 2), abs=1e-12)


def test_short_and_empty_texts_are_one_window_each():
    corpus = [["a", "b"], [], ["c"], ["a", "x", "x", "x", "c"]]
    # window 4: texts 1-3 are one window each; text 4 gives [a x x x], [x x x c].
    scores = npmi_per_topic([["a", "c"], ["a", "b"]], corpus, window=4)
    assert scores[0] == pytest.approx(npmi(0 / 5, 2 / 5, 2 / 5), abs=1e-12)
    assert scores[1] == pytest.approx(npmi(1 / 5, 2 / 5, 1 / 5), abs=1e-12)


def test_window_longer_than_every_text_equals_document_mode():
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(12)]
    corpus = [list(rng.choice(vocab, size=rng.integers(0, 25))) for _ in range(40)]
    topics = [list(rng.choice(vocab, size=6, replace=False)) for _ in range(5)]
    assert npmi_per_topic(topics, corpus, window=1000) == pytest.approx(
        npmi_per_topic(topics, corpus, window=None), abs=1e-12
    )


def test_missing_words_are_dropped_before_the_topk_cut():
    with_missing = npmi_per_topic([["a", "zzz", "b", "c"]], CORPUS, topk=2)
    assert with_missing == pytest.approx(npmi_per_topic([["a", "b"]], CORPUS), abs=1e-12)


def test_topic_with_fewer_than_two_known_words_is_nan_and_left_out_of_the_mean():
    scores = npmi_per_topic([["a", "zzz"], ["a", "b"]], CORPUS)
    assert math.isnan(scores[0])
    assert npmi_coherence([["a", "zzz"], ["a", "b"]], CORPUS) == pytest.approx(scores[1])
    assert math.isnan(npmi_coherence([["zzz", "yyy"]], CORPUS))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"topk": 1}, ConfigError),
        ({"window": 0}, ConfigError),
        ({"corpus_tokens": ["a b", "c"]}, InputError),
        ({"corpus_tokens": []}, InputError),
        ({"topics": []}, InputError),
    ],
)
def test_invalid_arguments_raise(kwargs, error):
    arguments = {"topics": [["a", "b"]], "corpus_tokens": CORPUS, **kwargs}
    with pytest.raises(error):
        npmi_coherence(**arguments)


# Cross-checked once against gensim 4.4.0 CoherenceModel(coherence="c_npmi",
# processes=1) on OCTIS BBC News; see docs/evaluation.md.
BBC_LABEL_TOPICS = [
    ["company", "firm", "market", "rise", "price", "sale", "growth", "share", "economy", "rate"],
    ["film", "good", "award", "music", "show", "win", "star", "include", "actor", "band"],
    ["government", "election", "party", "labour", "tory", "plan", "minister", "public",
     "leader", "issue"],
    ["win", "play", "game", "player", "match", "good", "team", "back", "final", "side"],
    ["game", "technology", "phone", "mobile", "user", "service", "computer", "net",
     "software", "music"],
]  # fmt: skip


@pytest.mark.data
@pytest.mark.parametrize(("window", "gensim_value"), [(10, 0.117932), (None, 0.261000)])
def test_bbc_matches_gensim(shared_data, window, gensim_value):
    from topicstrata.evaluate import load_bbc_octis

    corpus = load_bbc_octis(shared_data)
    value = npmi_coherence(BBC_LABEL_TOPICS, corpus.docs, topk=10, window=window)
    assert value == pytest.approx(gensim_value, abs=5e-7)
