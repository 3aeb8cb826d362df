"""The truth hierarchy as labels and as flat lookup tables for the generator.

Labels are readable and globally unique per level: a level-2 label is its
level-1 label, ``" / "`` and its own name, and so on, so ``true_l3`` alone
names one leaf and its ancestors. Leaf shares are fixed by the catalog (not
by the seed): different seeds give different records over the same tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from topicstrata.synth._catalog import CATALOG, INDUSTRIES, UseCase

SEPARATOR = " / "


@dataclass(frozen=True)
class PhraseTable:
    """Ragged phrase lists, one per owner (a leaf, branch or use case), flattened."""

    values: NDArray[np.object_]
    start: NDArray[np.intp]
    count: NDArray[np.intp]

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[object]]) -> PhraseTable:
        count = np.array([len(x) for x in lists], dtype=np.intp)
        if (count == 0).any():
            raise ValueError("every owner needs at least one phrase")
        start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.intp)
        values = np.array([p for x in lists for p in x], dtype=object)
        return cls(values, start, count)

    def local(self, rng: np.random.Generator, owner: NDArray[np.intp]) -> NDArray[np.intp]:
        """A uniformly drawn position within each owner's list."""
        return (rng.random(owner.size) * self.count[owner]).astype(np.intp)

    def take(self, owner: NDArray[np.intp], local: NDArray[np.intp]) -> NDArray[np.object_]:
        return self.values[self.start[owner] + local % self.count[owner]]


@dataclass(frozen=True)
class Tables:
    """Everything the generator looks up by leaf, branch or use-case index."""

    l1_labels: NDArray[np.object_]
    l2_labels: NDArray[np.object_]
    l3_labels: NDArray[np.object_]
    l2_names: NDArray[np.object_]
    leaf_names: NDArray[np.object_]
    leaf_l2: NDArray[np.intp]
    leaf_l1: NDArray[np.intp]
    l2_l1: NDArray[np.intp]
    leaf_p: NDArray[np.float64]
    leaf_phrases: PhraseTable
    siblings: PhraseTable  # values are leaf indices (as objects)
    l2_phrases: PhraseTable
    l2_products: PhraseTable
    l2_amount: NDArray[np.float64]
    l1_phrases: PhraseTable
    l1_pains: PhraseTable
    l1_cross: PhraseTable  # phrases of a use case, quoted by records of other ones
    l1_groups: NDArray[np.object_]
    industry_p: NDArray[np.float64]  # (n_l1, n_industries)


def _rank_weights(k: int) -> NDArray[np.float64]:
    """Mildly unequal shares for k siblings: the first is the most common."""
    w = 1.0 / (1.0 + 0.35 * np.arange(k))
    return w / w.sum()


def _industry_mix(uc: UseCase) -> NDArray[np.float64]:
    unknown = set(uc.industry_boost) - set(INDUSTRIES)
    if unknown:
        raise ValueError(f"{uc.name}: unknown industries {sorted(unknown)}")
    w = np.array([1.0 + uc.industry_boost.get(i, 0.0) for i in INDUSTRIES])
    return w / w.sum()


@cache
def tables() -> Tables:
    """Flatten ``CATALOG`` once per process."""
    l1_labels: list[str] = []
    l2_labels: list[str] = []
    l3_labels: list[str] = []
    l2_names: list[str] = []
    leaf_names: list[str] = []
    leaf_l2: list[int] = []
    leaf_l1: list[int] = []
    l2_l1: list[int] = []
    leaf_p: list[float] = []
    l2_amount: list[float] = []
    leaf_phr: list[tuple[str, ...]] = []
    sib: list[tuple[int, ...]] = []
    l2_phr: list[tuple[str, ...]] = []
    l2_prod: list[tuple[str, ...]] = []
    l1_phr: list[tuple[str, ...]] = []
    l1_pain: list[tuple[str, ...]] = []
    l1_cross: list[tuple[str, ...]] = []
    shares = np.array([uc.share for uc in CATALOG])
    shares = shares / shares.sum()
    for i, uc in enumerate(CATALOG):
        l1_labels.append(uc.name)
        l1_phr.append(uc.phrases)
        l1_pain.append(uc.pains)
        l1_cross.append(uc.phrases + tuple(p for b in uc.branches for p in b.phrases))
        b_share = _rank_weights(len(uc.branches))
        for j, br in enumerate(uc.branches):
            l2 = len(l2_labels)
            l2_labels.append(f"{uc.name}{SEPARATOR}{br.name}")
            l2_names.append(br.name)
            l2_l1.append(i)
            l2_phr.append(br.phrases)
            l2_prod.append(br.products)
            # Branches of one use case differ in deal size by up to +-25 %.
            l2_amount.append(uc.median_amount * (0.75 + 0.5 * j / max(len(uc.branches) - 1, 1)))
            first_leaf = len(l3_labels)
            leaf_share = _rank_weights(len(br.leaves))
            for k, lf in enumerate(br.leaves):
                l3_labels.append(f"{l2_labels[l2]}{SEPARATOR}{lf.name}")
                leaf_names.append(lf.name)
                leaf_l2.append(l2)
                leaf_l1.append(i)
                leaf_phr.append(lf.phrases)
                leaf_p.append(shares[i] * b_share[j] * leaf_share[k])
            ids = range(first_leaf, len(l3_labels))
            sib.extend(tuple(s for s in ids if s != me) for me in ids)
    sib_table = PhraseTable.from_lists(sib)
    sib_table = PhraseTable(sib_table.values.astype(np.intp), sib_table.start, sib_table.count)
    p = np.array(leaf_p)

    def obj(x: list[str]) -> NDArray[np.object_]:
        return np.array(x, dtype=object)

    return Tables(
        l1_labels=obj(l1_labels),
        l2_labels=obj(l2_labels),
        l3_labels=obj(l3_labels),
        l2_names=obj(l2_names),
        leaf_names=obj(leaf_names),
        leaf_l2=np.array(leaf_l2, dtype=np.intp),
        leaf_l1=np.array(leaf_l1, dtype=np.intp),
        l2_l1=np.array(l2_l1, dtype=np.intp),
        leaf_p=p / p.sum(),
        leaf_phrases=PhraseTable.from_lists(leaf_phr),
        siblings=sib_table,
        l2_phrases=PhraseTable.from_lists(l2_phr),
        l2_products=PhraseTable.from_lists(l2_prod),
        l2_amount=np.array(l2_amount),
        l1_phrases=PhraseTable.from_lists(l1_phr),
        l1_pains=PhraseTable.from_lists(l1_pain),
        l1_cross=PhraseTable.from_lists(l1_cross),
        l1_groups=obj([uc.product_group for uc in CATALOG]),
        industry_p=np.stack([_industry_mix(uc) for uc in CATALOG]),
    )


def use_case_tree() -> dict[str, dict[str, list[str]]]:
    """The truth hierarchy: ``{true_l1: {true_l2: [true_l3, ...]}}``, in catalog order.

    The keys and list items are exactly the values of the ``true_l1``,
    ``true_l2`` and ``true_l3`` columns, so the result is also the set of
    labels an evaluation should expect.
    """
    t = tables()
    tree: dict[str, dict[str, list[str]]] = {str(label): {} for label in t.l1_labels}
    for leaf, label in enumerate(t.l3_labels):
        l2 = t.leaf_l2[leaf]
        branch = tree[str(t.l1_labels[t.l2_l1[l2]])]
        branch.setdefault(str(t.l2_labels[l2]), []).append(str(label))
    return tree
