"""The truth hierarchy: shape, unique labels, and agreement with generated records."""

from __future__ import annotations

import pandas as pd

from topicstrata.synth import use_case_tree


def test_hierarchy_shape() -> None:
    tree = use_case_tree()
    assert len(tree) == 8
    for l1, branches in tree.items():
        assert 3 <= len(branches) <= 5, l1
        for l2, leaves in branches.items():
            assert l2.startswith(f"{l1} / ")
            assert 2 <= len(leaves) <= 3, l2
            assert all(leaf.startswith(f"{l2} / ") for leaf in leaves)
    leaves = [leaf for b in tree.values() for ls in b.values() for leaf in ls]
    assert 70 <= len(leaves) <= 100
    assert len(set(leaves)) == len(leaves)
    l2s = [l2 for b in tree.values() for l2 in b]
    assert len(set(l2s)) == len(l2s)


def test_records_follow_the_tree(sample: pd.DataFrame) -> None:
    tree = use_case_tree()
    parent_l2 = {leaf: l2 for b in tree.values() for l2, ls in b.items() for leaf in ls}
    parent_l1 = {l2: l1 for l1, b in tree.items() for l2 in b}
    assert set(sample["true_l3"]) <= set(parent_l2)
    assert (sample["true_l3"].map(parent_l2) == sample["true_l2"]).all()
    assert (sample["true_l2"].map(parent_l1) == sample["true_l1"]).all()
    # Every level-3 value has exactly one parent in the data as well.
    assert sample.groupby("true_l3")["true_l2"].nunique().max() == 1
    # 5,000 records cover all use cases and nearly every leaf.
    assert sample["true_l1"].nunique() == 8
    assert sample["true_l3"].nunique() >= 0.95 * len(parent_l2)


def test_tree_is_independent_of_the_seed() -> None:
    from topicstrata.synth import make_opportunities

    a, b = make_opportunities(3000, seed=1), make_opportunities(3000, seed=2)
    assert set(a["true_l1"]) == set(b["true_l1"]) == set(use_case_tree())
