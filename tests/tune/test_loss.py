"""The loss on hand-made assignments: each term moves the way docs/tuning.md says."""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np
import pytest

from topicstrata.tune.loss import (
    FoldScores,
    LossWeights,
    combine,
    fold_loss,
    level_harmonic_mean,
    score_assignments,
    size_balance,
    stability_score,
    word_gain,
)

VOCAB = {
    "a": "invoice billing payment refund ledger tax",
    "b": "router firewall network vpn switch latency",
    "c": "campaign email marketing lead funnel webinar",
}


def corpus(per_group: int = 30):
    rng = np.random.default_rng(0)
    truth, tokens = [], []
    for group, words in VOCAB.items():
        vocab = words.split()
        for _ in range(per_group):
            truth.append(group)
            tokens.append(list(rng.choice(vocab, size=4, replace=False)))
    return np.array(truth), tokens


def test_perfect_split_beats_merged_topics():
    truth, tokens = corpus()
    perfect = score_assignments(
        truth, [[VOCAB[g].split() for g in VOCAB]], [3], tokens, {"l1": list(truth)}
    )
    merged_words = [" ".join(VOCAB.values()).split()[::3]]  # one topic mixing every group
    merged = score_assignments(
        np.full(len(truth), "a"), [merged_words], [1], tokens, {"l1": list(truth)}
    )
    weights = LossWeights()
    assert perfect.coherence > merged.coherence
    assert perfect.balance == pytest.approx(1.0)
    assert merged.balance == 0.0
    assert perfect.labels == pytest.approx(1.0) and merged.labels == pytest.approx(0.0)
    assert fold_loss(perfect, weights) < fold_loss(merged, weights)


def test_one_giant_topic_is_penalized():
    even = np.repeat(["0", "1", "2", "3"], 25)
    giant = np.array(["0"] * 94 + ["1", "1", "2", "2", "3", "3"])
    assert size_balance(even, 1, [4]) == pytest.approx(1.0)
    assert size_balance(giant, 1, [4]) < 0.25
    # Topics the model has but that got no held-out record count as empty.
    assert size_balance(np.repeat(["0", "1"], 50), 1, [4]) == pytest.approx(0.5)
    _, tokens = corpus()
    words = [VOCAB[g].split() for g in VOCAB]
    tokens = tokens[:100]
    scores_even = score_assignments(even, [words], [4], tokens)
    scores_giant = score_assignments(giant, [words], [4], tokens)
    assert fold_loss(scores_giant, LossWeights()) > fold_loss(scores_even, LossWeights())


def test_many_tiny_topics_are_penalized():
    tail = np.array(["0"] * 50 + [str(i) for i in range(1, 51)])
    assert size_balance(tail, 1, [51]) < size_balance(np.repeat(["0", "1"], 50), 1, [2])


def test_labels_term_only_when_labels_are_given():
    truth, tokens = corpus()
    words = [VOCAB[g].split() for g in VOCAB]
    without = score_assignments(truth, [words], [3], tokens)
    assert without.labels is None and "labels" not in without.as_dict()
    heavy = LossWeights(labels=100.0)
    assert fold_loss(without, heavy) == fold_loss(without, LossWeights(labels=0.0))
    with_labels = score_assignments(truth, [words], [3], tokens, {"l1": list(truth)})
    assert fold_loss(with_labels, heavy) < fold_loss(without, heavy) - 99


def test_per_level_nmi_is_reported_beside_the_harmonic_mean_and_never_scored():
    # Two levels: the level-1 cut matches l1 exactly; l2 does not split topic 0.
    paths = np.array(["0.0", "0.1", "1.0", "1.1"] * 25)
    tokens = [["a", "b"]] * len(paths)
    l1 = ["x" if p.startswith("0") else "y" for p in paths]
    l2 = [p if p.startswith("1") else "0" for p in paths]
    scores = score_assignments(
        paths, [[["a", "b"]], [["a", "b"]]], [2, 4], tokens, {"l1": l1, "l2": l2}
    )
    assert scores.label_nmi[0] == pytest.approx(1.0)
    assert 0.0 < scores.label_nmi[1] < 1.0
    assert scores.labels == pytest.approx(statistics.harmonic_mean(scores.label_nmi))
    row = scores.as_dict()
    assert row["nmi_l1"] == pytest.approx(1.0) and row["nmi_l2"] == scores.label_nmi[1]
    assert "label_nmi" not in row
    free = LossWeights(labels=0.0)
    unlabelled = score_assignments(paths, [[["a", "b"]], [["a", "b"]]], [2, 4], tokens)
    assert unlabelled.as_dict().keys().isdisjoint({"nmi_l1", "nmi_l2"})
    assert fold_loss(scores, free) == fold_loss(unlabelled, free)


def test_outliers_raise_the_loss():
    truth, tokens = corpus()
    words = [VOCAB[g].split() for g in VOCAB]
    clean = score_assignments(truth, [words], [3], tokens)
    dirty_paths = truth.copy().astype(object)
    dirty_paths[::3] = "-1"
    dirty = score_assignments(dirty_paths.astype(str), [words], [3], tokens)
    assert dirty.outliers == pytest.approx(1 / 3)
    assert fold_loss(dirty, LossWeights()) > fold_loss(clean, LossWeights())


def test_stability_is_ari_over_fold_pairs_and_levels():
    a = np.array(["1.1", "1.2", "2.1", "2.2"] * 10)
    relabelled = np.array(["7.3", "7.4", "5.0", "5.1"] * 10)
    assert stability_score([a, relabelled, a], 2) == pytest.approx(1.0)
    shuffled = np.random.default_rng(0).permutation(np.repeat(["1", "2", "3", "4"], 100))
    assert stability_score([np.repeat(["1", "2", "3", "4"], 100), shuffled], 1) < 0.05
    assert stability_score([a], 2) == 0.0


def test_combine_subtracts_weighted_stability():
    truth, tokens = corpus()
    scores = score_assignments(truth, [[VOCAB[g].split() for g in VOCAB]], [3], tokens)
    w = LossWeights(stability=2.0)
    assert combine([scores, scores], 0.5, w) == pytest.approx(fold_loss(scores, w) - 1.0)
    assert combine([], 1.0, w) == float("inf")


def test_label_term_does_not_trade_one_level_for_another():
    # Arithmetic mean: (0.70 + 0.97 + 0.90) / 3 > (0.80 + 0.90 + 0.85) / 3, so a config
    # that loses level 1 would win. The harmonic mean prefers the one that serves all.
    balanced, lopsided = [0.80, 0.90, 0.85], [0.70, 0.97, 0.90]
    assert np.mean(lopsided) > np.mean(balanced)
    assert level_harmonic_mean(balanced) > level_harmonic_mean(lopsided)
    assert level_harmonic_mean([1.0, 1.0]) == pytest.approx(1.0)
    assert level_harmonic_mean([0.9, 0.0]) == 0.0
    assert level_harmonic_mean([]) == 0.0


def test_keywords_are_scored_level_by_level():
    # Two levels: three parents, each split into two children that share the parent's
    # words. Leaf diversity alone would call the children redundant; the level-1
    # topics are fully distinct, so the two-level score lies between.
    truth, tokens = corpus()
    parents = [VOCAB[g].split() for g in VOCAB]
    children = [[*p[:4], f"{p[0]}{i}", f"{p[1]}{i}"] for p in parents for i in (1, 2)]
    paths = np.array([f"{g}.{1 + i % 2}" for i, g in enumerate(truth)])
    two = score_assignments(paths, [parents, children], [3, 6], tokens)
    leaves = score_assignments(paths, [children], [6], tokens)
    assert two.diversity == pytest.approx((1.0 + leaves.diversity) / 2)
    assert leaves.diversity < two.diversity
    parents_only = score_assignments(truth, [parents], [3], tokens)
    assert two.coherence == pytest.approx((parents_only.coherence + leaves.coherence) / 2)
    assert two.n_topics == 6


def test_word_gain_rewards_a_split_between_different_words_not_of_one_group():
    rng = np.random.default_rng(0)
    # Two groups of records with different words; a third, homogeneous group.
    a = [list(rng.choice(["cloud", "server", "storage", "backup"], 8)) for _ in range(200)]
    b = [list(rng.choice(["payroll", "invoice", "ledger", "audit"], 8)) for _ in range(200)]
    train, test = a[:150] + b[:150], a[150:] + b[150:]
    one = word_gain(["0"] * 300, train, ["0"] * 100, test, 1)
    two = word_gain(["0"] * 150 + ["1"] * 150, train, ["0"] * 50 + ["1"] * 50, test, 1)
    assert one == pytest.approx(0.0, abs=1e-3) and two > 0.3  # at most log 2
    # Splitting the homogeneous group at random gains nothing on held-out records.
    halves = np.array(["0.0", "0.1"] * 75 + ["1"] * 150)
    held = np.array(["0.0", "0.1"] * 25 + ["1"] * 50)
    shallow = word_gain(halves, train[:150] + b[:150], held, a[150:] + b[150:], 1)
    deep = word_gain(halves, train[:150] + b[:150], held, a[150:] + b[150:], 2)
    assert deep < shallow
    # Outlier records are left out.
    assert word_gain(["0"] * 300, train, ["-1"] * 100, test, 1) == 0.0


def test_word_gain_counts_every_record_once_however_long():
    rng = np.random.default_rng(0)
    a = [list(rng.choice(["cloud", "server", "storage", "backup"], 8)) for _ in range(200)]
    b = [list(rng.choice(["payroll", "invoice", "ledger", "audit"], 8)) for _ in range(200)]
    train, test = a[:150] + b[:150], a[150:] + b[150:]
    train_paths, test_paths = ["0"] * 150 + ["1"] * 150, ["0"] * 50 + ["1"] * 50
    clean = word_gain(train_paths, train, test_paths, test, 1)
    # One held-out post of 20,000 tokens (a 20 Newsgroups thread with its quotes), its
    # words the other topic's: counted by tokens it would outweigh the 100 short records
    # (their 800 tokens) and turn the gain negative; it is one record of 101.
    long_post = list(rng.choice(["payroll", "invoice", "ledger", "audit", "cloud"], 20_000))
    with_post = word_gain(train_paths, train, [*test_paths, "0"], [*test, long_post], 1)
    assert clean > 0.3
    assert with_post == pytest.approx(clean, rel=0.05)
    # Repeating a word inside a record, on either side, changes nothing.
    doubled = word_gain(train_paths, [t * 2 for t in train], test_paths, [t * 3 for t in test], 1)
    assert doubled == pytest.approx(clean)


def test_word_gain_lowers_the_loss_by_its_weight():
    scores = FoldScores(coherence=0.1, diversity=0.5, balance=0.5, outliers=0.0, word_gain=2.0)
    off = LossWeights(word_gain=0.0)
    assert fold_loss(scores, off) == fold_loss(dataclasses.replace(scores, word_gain=None), off)
    assert fold_loss(scores, LossWeights()) == pytest.approx(
        fold_loss(scores, off) - LossWeights().word_gain * 2.0
    )
    assert LossWeights().word_gain > 0
