"""Keywords made distinct across a level: each word names at most N topics of it."""

from __future__ import annotations

from collections import Counter

import pytest

from _support.hierarchy import make_hierarchy, pca_config
from topicstrata.ensemble import Ensemble
from topicstrata.ensemble.keywords import distinct_across_level
from topicstrata.ensemble.tree import TopicNode


def _node(path, words, scores, vocabulary=()):
    return TopicNode(
        path=path,
        size=10,
        keywords=list(words),
        keyword_scores=list(scores),
        vocabulary=list(vocabulary),
    )


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


def test_two_owners_allowed_and_none_is_no_limit():
    groups = {"": [_node(str(i), ["card", f"w{i}"], [1.0 - i / 10, 0.1]) for i in range(3)]}
    two = distinct_across_level(groups, max_topics=2)[""]
    assert [("card" in n.keywords) for n in two] == [True, True, False]
    assert distinct_across_level(groups, max_topics=None)[""][2].keywords == ["card", "w2"]


def test_short_lists_are_filled_with_words_nobody_lists_first():
    # "1" loses card and pin to "0", which has no word to spare at min_keywords 3: "1" is
    # filled with its vocabulary's first word no topic lists ("limit"), then with the
    # words it lost, in its own order.
    groups = {
        "": [
            _node("0", ["card", "pin", "atm"], [0.9, 0.8, 0.7], ["card", "pin", "atm"]),
            _node("1", ["card", "pin"], [0.3, 0.2], ["card", "atm", "limit", "pin"]),
        ]
    }
    three = distinct_across_level(groups, max_topics=1, min_keywords=3)[""]
    assert three[0].keywords == ["card", "pin", "atm"]
    assert three[1].keywords == ["limit", "card", "pin"]
    assert three[1].keyword_scores == [0.0, 0.0, 0.0]


def test_a_short_list_takes_a_word_back_from_a_topic_with_words_to_spare():
    groups = {
        "": [
            _node("0", ["card", "pin", "atm"], [0.9, 0.8, 0.7]),
            _node("1", ["pin", "fee"], [0.5, 0.4]),
        ]
    }
    # "1" lost pin to "0"; "0" keeps 2 words without it, so "1" gets it back.
    out = distinct_across_level(groups, max_topics=1, min_keywords=2)[""]
    assert out[0].keywords == ["card", "atm"]
    assert out[1].keywords == ["pin", "fee"] and out[1].keyword_scores == [0.5, 0.4]
    # With min_keywords 3, "0" has no word to spare: "1" fills instead.
    out = distinct_across_level(groups, max_topics=1, min_keywords=3)[""]
    assert out[0].keywords == ["card", "pin", "atm"]


def test_fill_words_of_the_representation_do_not_compete():
    # A zero score marks a word listed only to reach min_keywords: it owns nothing.
    groups = {
        "": [
            _node("0", ["card", "pin"], [0.9, 0.0], ["card", "pin"]),
            _node("1", ["pin", "fee"], [0.5, 0.4], ["pin", "fee"]),
        ]
    }
    out = distinct_across_level(groups, max_topics=1, min_keywords=1)[""]
    assert out[0].keywords == ["card"] and out[1].keywords == ["pin", "fee"]


def test_words_of_topics_standing_from_earlier_layers_are_taken():
    # Topic "1" was not split and stands at level 2 with its own words.
    groups = {"0": [_node("0.0", ["card", "arrive"], [0.9, 0.5])]}
    out = distinct_across_level(groups, max_topics=1, taken=[["card", "atm"]])
    assert out["0"][0].keywords == ["arrive"]


@pytest.fixture(scope="module")
def hierarchy():
    return make_hierarchy()


def test_fitted_levels_list_each_planted_word_once_and_keep_parents_words(hierarchy):
    ensemble = Ensemble(pca_config()).fit(
        hierarchy.X, hierarchy.keywords, hierarchy.ids, hierarchy.texts
    )
    for level in (1, 2, 3):
        new = [n for n in ensemble.tree_.at_level(level) if n.level == level]
        # Every topic leads with a word no other topic of its level lists first, and each
        # planted word of this depth ("top", "mid", "leaf") names one topic only; the
        # generic words ("platform") only fill lists up to min_keywords (2).
        firsts = [n.keywords[0] for n in new]
        assert len(set(firsts)) == len(firsts), firsts
        planted = ("top", "mid", "leaf")[level - 1]
        counts = Counter(w for n in new for w in n.keywords if w.startswith(planted))
        assert counts and max(counts.values()) == 1, counts
        assert all(len(n.keywords) >= 2 for n in new)
    # Each layer-1 topic still leads with its planted word (no drift to a child's).
    a = ensemble.assignments_
    for path in a["path_l1"].unique():
        truth = hierarchy.l1[(a["path_l1"] == path).to_numpy()]
        planted = Counter(truth.tolist()).most_common(1)[0][0]
        assert ensemble.tree_.nodes[path].keywords[0] == f"top{planted}"


def test_the_tree_does_not_depend_on_which_keywords_are_shown(hierarchy):
    # The split flags score each topic's c-TF-IDF vocabulary, so the flagged mode splits
    # the same topics whichever list a topic shows.
    def fit(score):
        config = pca_config(mode="flagged")
        config = config.model_copy(
            update={
                "representation": config.representation.model_copy(update={"keyword_score": score})
            }
        )
        return Ensemble(config).fit(hierarchy.X, hierarchy.keywords, hierarchy.ids)

    distinct, ctfidf = fit("distinct"), fit("ctfidf")
    assert list(distinct.assignments_["path"]) == list(ctfidf.assignments_["path"])
    for path, node in distinct.tree_.nodes.items():
        other = ctfidf.tree_.nodes[path]
        assert (node.flags, node.coherence) == (other.flags, other.coherence)
        assert node.vocabulary == other.vocabulary == other.keywords
    assert any(
        n.keywords != ctfidf.tree_.nodes[p].keywords for p, n in distinct.tree_.nodes.items()
    )
