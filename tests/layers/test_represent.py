"""c-TF-IDF keywords and phrases recover each planted topic's vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

from topicstrata.layers import TopicRepresentation

VOCAB = {
    0: ["invoice", "ledger", "reconcile", "close"],
    1: ["chatbot", "agent", "deflection", "ticket"],
    2: ["shipment", "warehouse", "carrier", "tracking"],
}
SHARED = ["platform", "solution", "rollout", "license"]


def _corpus(n_per_topic=60, seed=0):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for topic, words in VOCAB.items():
        for _ in range(n_per_topic):
            toks = list(rng.choice(words, 4)) + list(rng.choice(SHARED, 3))
            toks += ["month", "end"] if topic == 0 else []
            texts.append(" ".join(toks))
            labels.append(topic)
    return texts, np.array(labels)


def test_keywords_come_from_each_topics_vocabulary():
    texts, labels = _corpus()
    rep = TopicRepresentation(top_n_words=6, n_phrases=2).fit(texts, labels)
    assert set(rep.keywords_[0]) == {*VOCAB[0], "month", "end"}
    for topic in (1, 2):
        top4 = rep.keywords_[topic][:4]
        assert set(top4) == set(VOCAB[topic]), rep.keywords_[topic]
        assert not set(top4) & set(SHARED)
    assert "month end" in rep.phrases_[0]


def test_outliers_are_left_out():
    texts, labels = _corpus()
    labels = labels.copy()
    labels[:10] = -1
    rep = TopicRepresentation(top_n_words=3).fit(texts, labels)
    assert rep.topics_ == [0, 1, 2]
    assert -1 not in rep.keywords_


def test_representatives_are_closest_to_centroid():
    texts, labels = _corpus(n_per_topic=10)
    emb = np.zeros((len(texts), 3), dtype=np.float32)
    emb[np.arange(len(texts)), labels] = 1.0
    emb[5] = [0.6, 0.8, 0]  # a topic-0 record far from its centroid
    cents = np.eye(3, dtype=np.float32)
    rep = TopicRepresentation(n_representatives=3).fit(texts, labels, emb, cents)
    assert 5 not in rep.representatives_[0]
    assert all(labels[r] == 0 for r in rep.representatives_[0])


def test_empty_texts_do_not_crash():
    rep = TopicRepresentation().fit(["", "", ""], np.array([0, 0, 1]))
    assert rep.keywords_ == {0: [], 1: []}


def test_a_single_term_vocabulary_does_not_crash():
    # Phrases with min_df=2 leave one bigram: c-TF-IDF's idf would be a scalar.
    texts = ["late shipment", "late shipment", "invoice", "ledger"]
    rep = TopicRepresentation(top_n_words=3, n_phrases=2, min_df=2).fit(
        texts, np.array([0, 0, 1, 1])
    )
    assert rep.phrases_ == {0: ["late shipment"], 1: []}


def test_keywords_come_from_the_topic_core():
    # Topic 0's 40 core records say "invoice ..."; 20 boundary records (far from the
    # centroid, e.g. mis-clustered tickets) repeat "escalation". With core_share=0.6
    # the boundary words are not keywords; with every record (1.0) they are.
    core = ["invoice ledger reconcile"] * 40
    boundary = ["escalation escalation escalation ticket"] * 20
    other = ["shipment carrier tracking"] * 60
    texts = core + boundary + other
    labels = np.array([0] * 60 + [1] * 60)
    emb = np.zeros((120, 2), dtype=np.float32)
    emb[:40] = [1.0, 0.0]
    emb[40:60] = [0.6, 0.8]
    emb[60:] = [0.0, 1.0]
    cents = np.array([[0.95, 0.31], [0.0, 1.0]], dtype=np.float32)
    # c-TF-IDF, which weighs by frequency, shows the effect (the distinct score ranks the
    # core's words first either way, see the tests below).
    ctfidf = {"top_n_words": 3, "keyword_score": "ctfidf"}
    focused = TopicRepresentation(**ctfidf, core_share=0.6).fit(texts, labels, emb, cents)
    assert set(focused.keywords_[0]) == {"invoice", "ledger", "reconcile"}
    everyone = TopicRepresentation(**ctfidf, core_share=1.0).fit(texts, labels, emb, cents)
    assert {"escalation", "ticket"} & set(everyone.keywords_[0])


def test_core_share_out_of_range_is_an_error():
    texts, labels = _corpus(n_per_topic=5)
    with pytest.raises(ValueError, match="core_share"):
        TopicRepresentation(core_share=0.0).fit(texts, labels)


def _short_queries(seed=0):
    """Short records of two topics: each record one topic word, often a generic word
    ("need", "help": in 60% of every topic's records) and, rarely, a one-off word."""
    rng = np.random.default_rng(seed)
    words = {0: ["invoice", "ledger"], 1: ["shipment", "carrier"]}
    texts, labels = [], []
    for topic, vocab in words.items():
        for i in range(100):
            toks = [vocab[i % 2], rng.choice(["need", "help"])] if i % 5 < 3 else [vocab[i % 2]]
            if i % 25 == 0:
                toks.append(f"oneoff{topic}{i}")
            texts.append(" ".join(toks))
            labels.append(topic)
    return texts, np.array(labels)


def test_distinct_keywords_leave_out_generic_and_rare_words():
    texts, labels = _short_queries()
    ctfidf = TopicRepresentation(keyword_score="ctfidf", min_df=1).fit(texts, labels)
    # c-TF-IDF with two classes lists the generic words and the one-off words too.
    assert {"need", "help"} <= set(ctfidf.keywords_[0])
    assert any(w.startswith("oneoff") for w in ctfidf.keywords_[0])
    rep = TopicRepresentation(min_df=1, min_keywords=1).fit(texts, labels)

    def strong(topic):
        return {
            w
            for w, s in zip(rep.keywords_[topic], rep.keyword_scores_[topic], strict=True)
            if s > 0
        }

    assert strong(0) == {"invoice", "ledger"} and strong(1) == {"shipment", "carrier"}
    assert rep.keywords_[0][:2] in (["invoice", "ledger"], ["ledger", "invoice"])
    # Scores are the words' KL terms: share 0.5 against 0.25 of all records.
    np.testing.assert_allclose(rep.keyword_scores_[0][:2], [0.5 * np.log(2)] * 2, atol=1e-6)
    # A generic word slightly more common in one topic by chance is at most a weak word
    # (score 0); a word of one record is not listed at all.
    assert all(
        s == 0.0
        for w, s in zip(rep.keywords_[0], rep.keyword_scores_[0], strict=True)
        if w in {"need", "help"}
    )
    assert not any(w.startswith("oneoff") for w in rep.keywords_[0] + rep.keywords_[1])
    # The c-TF-IDF list stays available for the split flags and the tuning loss.
    assert rep.ctfidf_keywords_ == ctfidf.keywords_


def test_distinct_keywords_thresholds_are_the_given_ones():
    texts, labels = _short_queries()
    # With no support floor and no lift required, every word more common in the topic
    # than overall qualifies, the one-off words included. With a 0.6 floor none does: the
    # topic words (used by half its records) are listed as weak words, scored 0.
    loose = TopicRepresentation(min_df=1, min_support=0.0, min_lift=1.0).fit(texts, labels)
    assert any(w.startswith("oneoff0") for w in loose.keywords_[0])
    strict = TopicRepresentation(min_df=1, min_support=0.6).fit(texts, labels)
    assert set(strict.keywords_[0][:2]) == {"invoice", "ledger"}
    assert set(strict.keyword_scores_[0]) == {0.0}


def test_a_list_shorter_than_min_keywords_is_filled_with_ctfidf_words():
    # Two topics with the same words: nothing is more common in one than overall, so
    # there is neither a strong nor a weak word; c-TF-IDF's words fill the list, scored 0.
    texts = ["alpha beta", "alpha beta gamma"] * 10
    labels = np.array([0, 0, 1, 1] * 5)
    rep = TopicRepresentation(min_df=1, min_keywords=2).fit(texts, labels)
    assert len(rep.keywords_[0]) == 2 and rep.keywords_[0] == rep.ctfidf_keywords_[0][:2]
    assert rep.keyword_scores_[0] == [0.0, 0.0]


def test_unknown_keyword_score_is_an_error():
    texts, labels = _corpus(n_per_topic=5)
    with pytest.raises(ValueError, match="keyword_score"):
        TopicRepresentation(keyword_score="tfidf").fit(texts, labels)
