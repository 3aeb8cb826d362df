"""Keywords made distinct across a level: each word names at most N topics of it."""

from __future__ import annotations

from collections import Counter

import pytest

from _support.hierarchy import make_hierarchy, pca_config
from topicstrata.ensemble import Ensemble
from topicstrata.ensemble.keywords import distinct_across_level
from topicstrata.ensemble.tree import TopicNode


def _node(path, words, scores):
    return TopicNode(path=path, size=10, keywords=list(words), keyword_scores=list(scores))


def test_a_shared_word_stays_with_the_topic_it_scores_highest_in():
    groups = {
        "0": [
            _node("0.0", ["card", "arrive"], [0.9, 0.5]),
            _node("0.1", ["card", "pin"], [0.4, 0.8]),
        ],
        "1": [_node("1.0", ["card", "atm"], [0.6, 0.7])],
    }
    out = distinct_across_level(groups, max_topics=1)
    assert out["0"][0].keywords == ["card", "arrive"]
    assert out["0"][1].keywords == ["pin"] and out["0"][1].keyword_scores == [0.8]
    assert out["1"][0].keywords == ["atm"]
    # The given nodes are left as they were (the pipeline may have cached them).
    assert groups["0"][1].keywords == ["card", "pin"]


def test_two_owners_allowed_and_none_disables():
    groups = {"": [_node(str(i), ["card", f"w{i}"], [1.0 - i / 10, 0.1]) for i in range(3)]}
    two = distinct_across_level(groups, max_topics=2)[""]
    assert [("card" in n.keywords) for n in two] == [True, True, False]
    assert distinct_across_level(groups, max_topics=None)[""][2].keywords == ["card", "w2"]


def test_a_topic_left_without_words_keeps_its_first():
    groups = {"": [_node("0", ["card"], [0.9]), _node("1", ["card"], [0.3])]}
    out = distinct_across_level(groups, max_topics=1)[""]
    assert out[1].keywords == ["card"]


def test_words_of_topics_standing_from_earlier_layers_are_taken():
    # Topic "1" was not split and stands at level 2 with its own words.
    groups = {"0": [_node("0.0", ["card", "arrive"], [0.9, 0.5])]}
    out = distinct_across_level(groups, max_topics=1, taken=[["card", "atm"]])
    assert out["0"][0].keywords == ["arrive"]


@pytest.fixture(scope="module")
def hierarchy():
    return make_hierarchy()


def test_fitted_levels_list_each_word_once_and_keep_the_planted_words(hierarchy):
    ensemble = Ensemble(pca_config()).fit(
        hierarchy.X, hierarchy.keywords, hierarchy.ids, hierarchy.texts
    )
    for level in (1, 2, 3):
        new = [n for n in ensemble.tree_.at_level(level) if n.level == level]
        counts = Counter(w for n in new for w in n.keywords)
        shared = {w: c for w, c in counts.items() if c > 1}
        # A word shared by two topics of one level can only be a fallback first word.
        assert all(n.keywords == n.keywords[:1] for n in new if set(n.keywords) & set(shared)), (
            shared
        )
    # Each layer-1 topic still leads with its planted word (no drift to a child's).
    a = ensemble.assignments_
    for path in a["path_l1"].unique():
        truth = hierarchy.l1[(a["path_l1"] == path).to_numpy()]
        planted = Counter(truth.tolist()).most_common(1)[0][0]
        assert ensemble.tree_.nodes[path].keywords[0] == f"top{planted}"
