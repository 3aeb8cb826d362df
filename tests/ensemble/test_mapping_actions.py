"""Editing the mapping and refitting changes results exactly as written."""

from __future__ import annotations

import numpy as np
import pytest

from _support.hierarchy import make_hierarchy, pca_config
from topicstrata.ensemble import Ensemble
from topicstrata.mapping import Rule, dumps_mapping, loads_mapping


@pytest.fixture(scope="module")
def data():
    return make_hierarchy(n_l1=4, n_l2=2, n_l3=2, per_leaf=30, seed=1)


@pytest.fixture(scope="module")
def base(data):
    return Ensemble(pca_config(layers=2)).fit(data.X, data.keywords, data.ids, data.texts)


def _edited(base, edit):
    """The final mapping of ``base`` after ``edit(entries)``, through a YAML round trip."""
    mapping = loads_mapping(dumps_mapping(base.mapping_))
    edit(mapping.by_path(), mapping)
    return loads_mapping(dumps_mapping(mapping))


def _refit(data, mapping, **kw):
    return Ensemble(pca_config(layers=2, **kw)).fit(
        data.X, data.keywords, data.ids, data.texts, mapping=mapping
    )


def test_rename_shows_in_output(data, base):
    def edit(e, m):
        # An edited label is used whatever the action (here "split", kept as is).
        e["0"].label = "Billing & invoices"

    refit = _refit(data, _edited(base, edit))
    a = refit.assignments_
    assert set(a.loc[a["path_l1"] == "0", "path"]) == set(
        base.assignments_.loc[base.assignments_["path_l1"] == "0", "path"]
    )
    assert refit.mapping_.by_path()["0"].label == "Billing & invoices"
    assert refit.topics_frame().set_index("path").loc["0", "label"] == "Billing & invoices"
    # children keep their own labels
    assert refit.mapping_.by_path()["0.0"].label != "Billing & invoices"


def test_merge_joins_two_topics(data, base):
    def edit(e, m):
        e["2"].action = "merge"
        e["2"].merge_into = "1"

    refit = _refit(data, _edited(base, edit))
    before = base.assignments_["path_l1"].to_numpy()
    after = refit.assignments_["path_l1"].to_numpy()
    assert "2" not in set(after)
    np.testing.assert_array_equal(after[before == "2"], "1")
    np.testing.assert_array_equal(after[before == "1"], "1")
    # the merged topic is re-clustered as one group in layer 2
    assert (refit.assignments_["path"].str.count(r"\.") == 1).all()


def test_drop_sends_layer1_records_to_outliers(data, base):
    def edit(e, m):
        e["3"].action = "drop"

    refit = _refit(data, _edited(base, edit))
    before = base.assignments_["path_l1"].to_numpy()
    paths = refit.assignments_["path"].to_numpy()
    np.testing.assert_array_equal(paths[before == "3"], "-1")
    assert len(paths) == len(data.X)  # nothing lost


def test_drop_of_a_child_keeps_records_at_the_parent(data, base):
    def edit(e, m):
        e["0.1"].action = "drop"

    refit = _refit(data, _edited(base, edit))
    before = base.assignments_["path"].to_numpy()
    after = refit.assignments_["path"].to_numpy()
    np.testing.assert_array_equal(after[before == "0.1"], "0")


def test_split_only_what_the_mapping_marks(data, base):
    def edit(e, m):
        for entry in m.topics:
            entry.action = "keep"
        e["1"].action = "split"

    refit = _refit(data, _edited(base, edit), mode="none")
    parents = {p.rsplit(".", 1)[0] for p in refit.assignments_["path"] if "." in p}
    assert parents == {"1"}


def test_phrase_rule_assigns_every_matching_record(data, base):
    target = "2"

    def edit(e, m):
        m.rules.append(Rule(pattern="leaf 0-1-0", path=target, label="Rule-based"))

    refit = _refit(data, _edited(base, edit))
    a = refit.assignments_
    matched = np.array(["leaf 0-1-0" in t for t in data.texts])
    assert matched.sum() == 30
    assert (a.loc[matched, "path_l1"] == target).all()
    assert (a.loc[matched, "rule_applied"] == "leaf 0-1-0").all()
    assert (a.loc[matched, "label"] == "Rule-based").all()
    assert (a.loc[~matched, "rule_applied"] == "").all()
    # predict applies the same rule
    pred = refit.predict(
        data.X[matched], [t for t, m in zip(data.texts, matched, strict=True) if m]
    )
    assert (pred["path_l1"] == target).all()


def test_rule_to_a_deeper_topic_survives_until_its_layer(data, base):
    target = "1.0"

    def edit(e, m):
        m.rules.append(Rule(pattern="leaf 3-0-1", path=target))

    refit = _refit(data, _edited(base, edit))
    matched = np.array(["leaf 3-0-1" in t for t in data.texts])
    assert (refit.assignments_.loc[matched, "path"] == target).all()
