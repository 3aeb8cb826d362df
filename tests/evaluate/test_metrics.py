"""Agreement per level, diversity, stability and the evaluate JSON contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from topicstrata.errors import ConfigError, InputError
from topicstrata.evaluate import (
    cut_paths,
    evaluate_assignments,
    keyword_levels,
    level_agreement,
    outlier_share,
    stability,
    topic_diversity,
)
from topicstrata.evaluate.coherence import EPSILON

PATHS = ["7.2.1", "7", "7.-1", "-1", "12.3"]


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (1, ["7", "7", "7", "-1", "12"]),
        (2, ["7.2", "7", "7.-1", "-1", "12.3"]),
        (3, ["7.2.1", "7", "7.-1", "-1", "12.3"]),
    ],
)
def test_cut_paths(depth, expected):
    assert cut_paths(PATHS, depth).tolist() == expected


def test_cut_paths_accepts_integer_layer_one_ids():
    assert cut_paths(np.array([3, 3, -1]), 1).tolist() == ["3", "3", "-1"]


def test_cut_paths_rejects_depth_zero():
    with pytest.raises(ConfigError):
        cut_paths(PATHS, 0)


def planted_tree(n_per_leaf: int = 50, seed: int = 0):
    """4 parents x 3 children; topic ids are shuffled relative to the label names."""
    rng = np.random.default_rng(seed)
    parent_ids, child_ids = rng.permutation(4), rng.permutation(3)
    paths, coarse, fine = [], [], []
    for parent in range(4):
        for child in range(3):
            paths += [f"{parent_ids[parent]}.{child_ids[child]}"] * n_per_leaf
            coarse += [f"group{parent}"] * n_per_leaf
            fine += [f"group{parent}/sub{child}"] * n_per_leaf
    return paths, {"coarse": coarse, "fine": fine}


def test_level_agreement_is_perfect_on_the_planted_tree():
    paths, labels = planted_tree()
    rows = level_agreement(paths, labels)
    assert [(r["level"], r["label_col"], r["n_topics"]) for r in rows] == [
        (1, "coarse", 4),
        (2, "fine", 12),
    ]
    for row in rows:
        assert row["nmi"] == pytest.approx(1.0)
        assert row["ari"] == pytest.approx(1.0)


def test_level_agreement_is_near_zero_for_random_labels():
    paths, labels = planted_tree(n_per_leaf=250)
    rng = np.random.default_rng(1)
    shuffled = {name: rng.permutation(values) for name, values in labels.items()}
    for row in level_agreement(paths, shuffled):
        assert row["nmi"] < 0.02
        assert abs(row["ari"]) < 0.01


def test_outliers_form_their_own_cluster_and_are_not_counted_as_topics():
    paths = ["1.1", "1.1", "1.-1", "1.-1", "-1", "-1"]
    labels = {"l1": ["a", "a", "a", "a", "b", "b"], "l2": ["x", "x", "y", "y", "z", "z"]}
    level1, level2 = level_agreement(paths, labels)
    assert level1["nmi"] == pytest.approx(1.0)
    assert level1["n_topics"] == 1
    assert level2["nmi"] == pytest.approx(1.0)
    assert level2["n_topics"] == 1


def test_records_without_a_label_are_left_out_of_that_level():
    paths = ["1", "1", "2", "2", "3"]
    labels = {"l1": pd.Series(["a", "a", "b", "b", None])}
    (row,) = level_agreement(paths, labels)
    assert row["nmi"] == pytest.approx(1.0)
    assert row["n_topics"] == 2


def test_level_agreement_rejects_misaligned_labels():
    with pytest.raises(InputError, match="one label per record"):
        level_agreement(["1", "2"], {"l1": ["a"]})


@pytest.mark.parametrize(
    ("topics", "topk", "expected"),
    [
        ([["a", "b", "c"], ["a", "d", "e"]], 3, 5 / 6),
        ([["a", "b", "c"], ["a", "d", "e"]], 2, 3 / 4),
        ([["a", "b"], ["a", "b"]], 2, 2 / 4),
        ([["a", "b", "c"], ["d", "e", "f"]], 10, 1.0),
    ],
)
def test_topic_diversity(topics, topk, expected):
    assert topic_diversity(topics, topk=topk) == pytest.approx(expected)


def test_topic_diversity_default_topk_is_octis_ten():
    topics = [[f"w{i}" for i in range(25)], [f"w{i}" for i in range(10, 35)]]
    assert topic_diversity(topics) == pytest.approx(1.0)
    assert topic_diversity(topics, topk=25) == pytest.approx(35 / 50)


def test_stability_compares_shared_records_only():
    a = pd.Series(["1", "1", "2", "2", "3"], index=["r1", "r2", "r3", "r4", "r5"])
    b = pd.Series(["x", "x", "y", "y", "z"], index=["r2", "r1", "r4", "r3", "r9"])
    assert stability(a, b) == pytest.approx(1.0)
    assert stability({"r1": "1", "r2": "2"}, {"r1": "9", "r2": "9"}) == pytest.approx(0.0)


def test_stability_errors():
    with pytest.raises(InputError, match="different lengths"):
        stability(["1", "2"], ["1"])
    with pytest.raises(InputError, match="share no record"):
        stability(pd.Series(["1"], index=["a"]), pd.Series(["1"], index=["b"]))


def test_outlier_share():
    assert outlier_share(["1", "1.-1", "-1", "2.3"]) == pytest.approx(0.5)
    assert outlier_share(["1", "2"]) == 0.0


def test_evaluate_assignments_json_contract():
    paths, labels = planted_tree(n_per_leaf=5)
    topic_words = {"0.0": ["a", "b"], "0.1": ["a", "c"], "-1": ["noise", "junk"]}
    corpus = [["a", "b"], ["a", "c"], ["b", "c"], ["d"]]
    result = evaluate_assignments(
        paths,
        labels=labels,
        topic_words=topic_words,
        corpus_tokens=corpus,
        reference_paths=list(reversed(paths)),
    )
    assert set(result) == {
        "levels",
        "npmi",
        "diversity",
        "keyword_levels",
        "n_docs",
        "outlier_share",
        "stability",
    }
    assert result["keyword_levels"] == []  # no tree_keywords given
    assert result["n_docs"] == len(paths)
    assert [set(level) for level in result["levels"]] == [
        {"level", "label_col", "nmi", "ari", "n_topics"}
    ] * 2
    assert result["diversity"] == pytest.approx(3 / 4)  # outlier topic skipped
    for key in ("npmi", "diversity", "outlier_share", "stability"):
        assert type(result[key]) is float
    for level in result["levels"]:
        assert type(level["nmi"]) is float and type(level["n_topics"]) is int
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_evaluate_assignments_without_optional_inputs():
    result = evaluate_assignments(["1", "2", "-1"])
    assert result == {
        "levels": [],
        "npmi": None,
        "diversity": None,
        "keyword_levels": [],
        "n_docs": 3,
        "outlier_share": pytest.approx(1 / 3),
    }
    json.dumps(result, allow_nan=False)


def _keyword_tree():
    """Two parents with two children each; documents hold their topic's words.

    Parent 0's children repeat its words (diversity at level 2 falls, and its
    children's words co-occur); parent 1's children have words of their own.
    """
    tree = {
        "0": ["alpha", "beta"],
        "0.0": ["alpha", "beta"],
        "0.1": ["alpha", "beta"],
        "1": ["gamma", "delta"],
        "1.0": ["eps", "zeta"],
        "1.1": ["eta", "theta"],
        "-1": ["noise", "junk"],
        "1.-1": ["noise", "junk"],
    }
    paths = ["0.0"] * 4 + ["0.1"] * 4 + ["1.0"] * 4 + ["1.1"] * 4 + ["1.-1", "-1"]
    corpus = (
        [["alpha", "beta"]] * 8
        + [["gamma", "eps", "zeta"]] * 4
        + [["delta", "eta", "theta"]] * 4
        + [["noise"], ["junk"]]
    )
    return paths, tree, corpus


def test_keyword_levels_scores_each_cut_of_the_tree():
    paths, tree, corpus = _keyword_tree()
    level1, level2 = keyword_levels(paths, tree, corpus, topk=2)
    assert (level1["level"], level1["n_topics"], level1["n_scored"]) == (1, 2, 2)
    assert (level2["level"], level2["n_topics"], level2["n_scored"]) == (2, 4, 4)
    # Level 1: {alpha, beta, gamma, delta}, all distinct. Level 2: 0.0 and 0.1 share both
    # words, 1.0 and 1.1 have their own: 6 unique words among 8.
    assert level1["diversity"] == pytest.approx(1.0)
    assert level2["diversity"] == pytest.approx(6 / 8)
    # alpha and beta always co-occur (NPMI 1); gamma and delta (4 of 18 documents each)
    # never do, which gensim's formula scores log(eps / p^2) / -log(eps), close to -1.
    # At level 2 every child's pair always co-occurs.
    never = math.log(EPSILON / (4 / 18) ** 2) / -math.log(EPSILON)
    assert level1["npmi"] == pytest.approx((1.0 + never) / 2, abs=1e-6)
    assert level2["npmi"] == pytest.approx(1.0, abs=1e-6)
    assert (level1["n_npmi"], level2["n_npmi"]) == (2, 4)


def test_keyword_levels_counts_the_topics_npmi_averages():
    # A one-word topic has no pair to score: left out of the mean, and counted as such.
    paths = ["0", "0", "1", "1"]
    tree = {"0": ["alpha", "beta"], "1": ["gamma"]}
    corpus = [["alpha", "beta"], ["alpha", "beta"], ["gamma"], ["gamma"]]
    (level1,) = keyword_levels(paths, tree, corpus, topk=2)
    assert (level1["n_scored"], level1["n_npmi"]) == (2, 1)
    assert level1["npmi"] == pytest.approx(1.0, abs=1e-6)


def test_keyword_levels_keeps_unsplit_topics_and_skips_outliers():
    paths = ["3", "3", "4.1", "4.2", "-1"]
    tree = {"3": ["a", "b"], "4": ["c", "d"], "4.1": ["e", "f"], "4.2": ["g", "h"]}
    level1, level2 = keyword_levels(paths, tree, corpus_tokens=None, topk=2)
    assert level1["n_topics"] == 2 and level2["n_topics"] == 3  # "3" stands at level 2 too
    assert level2["diversity"] == pytest.approx(1.0)
    assert level1["npmi"] is None and level2["npmi"] is None  # no corpus given


def test_keyword_levels_counts_topics_without_keywords():
    rows = keyword_levels(["1.1", "1.2"], {"1": ["a", "b"], "1.1": ["a", "c"]}, topk=2)
    assert [(r["n_topics"], r["n_scored"]) for r in rows] == [(1, 1), (2, 1)]
    assert rows[1]["diversity"] == pytest.approx(1.0)


def test_evaluate_assignments_reports_keyword_levels():
    paths, tree, corpus = _keyword_tree()
    result = evaluate_assignments(paths, corpus_tokens=corpus, topk=2, tree_keywords=tree)
    assert [row["level"] for row in result["keyword_levels"]] == [1, 2]
    assert json.loads(json.dumps(result, allow_nan=False)) == result
