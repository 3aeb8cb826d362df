"""The ``structure`` split rule on a seeded hierarchy of unequal branching (issue 14).

Six parents: one is a single broad blob with no children, the others have 2..6 children.
The blob is as spread out as the parents with children, so its size and dispersion do
not tell it apart; only whether its records hold more than one group does.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from topicstrata.ensemble import Ensemble, EnsembleConfig, LayerConfig, SplitRule
from topicstrata.ensemble.flags import SUBSTRUCTURE, substructure_gap

CHILDREN = (0, 2, 3, 4, 5, 6)  # parent i has CHILDREN[i] children; 0: a leaf parent
PER_CHILD = 70
DIM = 48


def _unequal_hierarchy(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X, parents, leaves = [], [], []
    for p, n_children in enumerate(CHILDREN):
        centre = rng.normal(size=DIM) * 12
        if n_children == 0:
            # One homogeneous group, spread like a parent with children (offsets sd 2.5).
            X.append(centre + rng.normal(size=(4 * PER_CHILD, DIM)) * 2.5)
            parents += [p] * 4 * PER_CHILD
            leaves += [p * 10] * 4 * PER_CHILD
            continue
        for c in range(n_children):
            child = centre + rng.normal(size=DIM) * 2.5
            X.append(child + rng.normal(size=(PER_CHILD, DIM)) * 0.5)
            parents += [p] * PER_CHILD
            leaves += [p * 10 + c] * PER_CHILD
    return np.vstack(X).astype(np.float32), np.array(parents), np.array(leaves)


def _config(mode: str = "structure") -> EnsembleConfig:
    # Layer 1 searches a range that holds the 6 parents (the product's default 15..25
    # cannot); layer 2 is the product's default layer-2 config (UMAP, k 2..6).
    return EnsembleConfig(
        layers=[
            LayerConfig(k_range=(3, 9), reducer="pca", n_components=8),
            EnsembleConfig().layers[1],
        ],
        split=SplitRule(mode=mode),
        random_state=0,
    )


@pytest.fixture(scope="module")
def unequal():
    X, parents, leaves = _unequal_hierarchy()
    keywords = [f"p{p} c{c}" for p, c in zip(parents, leaves, strict=True)]
    fitted = Ensemble(_config()).fit(X, keywords)
    return X, parents, leaves, fitted


def _parent_of_topic(paths: np.ndarray, parents: np.ndarray) -> dict[str, int]:
    """Each layer-1 topic's majority planted parent."""
    top = np.array([p.split(".")[0] for p in paths])
    return {t: int(np.bincount(parents[top == t]).argmax()) for t in np.unique(top)}


def test_layer_one_finds_the_parents(unequal):
    _, parents, _, fitted = unequal
    top = fitted.assignments_["path_l1"].to_numpy()
    assert len(np.unique(top)) == len(CHILDREN)
    assert adjusted_rand_score(parents, top) > 0.99


def test_splits_every_parent_with_children_and_not_the_leaf_parent(unequal):
    _, parents, _, fitted = unequal
    paths = fitted.assignments_["path"].astype(str).to_numpy()
    owner = _parent_of_topic(paths, parents)
    marked = set(fitted.mappings_[0].paths_to_split(1))
    expected = {t for t, p in owner.items() if CHILDREN[p] > 0}
    assert marked == expected
    for topic in owner:
        flags = fitted.tree_.nodes[topic].flags
        assert any(f.startswith(SUBSTRUCTURE) for f in flags) == (topic in expected), flags
    # The old default, "flagged", would split the leaf parent: it is as dispersed as a
    # parent with children, more than its siblings' median.
    (leaf,) = (t for t, p in owner.items() if CHILDREN[p] == 0)
    assert any(f.startswith("dispersed") for f in fitted.tree_.nodes[leaf].flags)


def test_default_layer_two_finds_each_parents_children_within_one(unequal):
    _, parents, leaves, fitted = unequal
    paths = fitted.assignments_["path"].astype(str).to_numpy()
    for topic, parent in _parent_of_topic(paths, parents).items():
        if CHILDREN[parent] == 0:
            continue
        inside = np.array([p.split(".")[0] == topic for p in paths])
        found = len({p for p in paths[inside]})
        assert abs(found - CHILDREN[parent]) <= 1, (topic, parent, found)
        assert adjusted_rand_score(leaves[inside], paths[inside]) > 0.8


def test_the_gap_tells_one_group_from_two_of_the_same_spread():
    rng = np.random.default_rng(3)
    centre = rng.normal(size=DIM) * 12
    blob = centre + rng.normal(size=(400, DIM)) * 2.5
    gap, se = substructure_gap(blob.astype(np.float32))
    assert gap <= se
    offset = rng.normal(size=DIM) * 2.5
    noise = rng.normal(size=(400, DIM)) * 0.5
    two = np.vstack([centre - offset + noise[:200], centre + offset + noise[200:]])
    gap, se = substructure_gap(two.astype(np.float32))
    assert gap > se


def test_other_modes_do_not_pay_for_the_gap_statistic():
    X, parents, _ = _unequal_hierarchy()
    config = _config("flagged")
    config.layers[1] = LayerConfig(k_range=(2, 6), reducer="pca", n_components=4)
    fitted = Ensemble(config).fit(X, [f"p{p}" for p in parents])
    flags = [f for node in fitted.tree_.nodes.values() for f in node.flags]
    assert flags and not any(f.startswith(SUBSTRUCTURE) for f in flags)
