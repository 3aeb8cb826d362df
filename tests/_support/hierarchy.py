"""A seeded 3-level hierarchy in embedding space with leaf-specific keywords."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from topicstrata.ensemble import EnsembleConfig, LayerConfig, SplitRule


@dataclass
class Hierarchy:
    X: np.ndarray
    keywords: list[str]
    texts: list[str]
    ids: list[str]
    l1: np.ndarray
    l2: np.ndarray
    l3: np.ndarray


def make_hierarchy(n_l1=4, n_l2=3, n_l3=2, per_leaf=40, dim=24, seed=0) -> Hierarchy:
    rng = np.random.default_rng(seed)
    X, kws, texts, l1, l2, l3 = [], [], [], [], [], []
    for a in range(n_l1):
        ca = rng.normal(size=dim) * 20
        for b in range(n_l2):
            cb = ca + rng.normal(size=dim) * 6
            for c in range(n_l3):
                cc = cb + rng.normal(size=dim) * 1.5
                pts = cc + rng.normal(size=(per_leaf, dim)) * 0.4
                X.append(pts)
                for _ in range(per_leaf):
                    words = [f"top{a}", f"mid{a}x{b}", f"leaf{a}x{b}x{c}", "platform", "rollout"]
                    kws.append(" ".join(rng.permutation(words)))
                    texts.append(f"Deal about leaf {a}-{b}-{c} for the platform")
                    l1.append(a)
                    l2.append(a * n_l2 + b)
                    l3.append((a * n_l2 + b) * n_l3 + c)
    X = np.vstack(X).astype(np.float32)
    return Hierarchy(
        X=X,
        keywords=kws,
        texts=texts,
        ids=[f"r{i}" for i in range(len(X))],
        l1=np.array(l1),
        l2=np.array(l2),
        l3=np.array(l3),
    )


def pca_config(mode="all", layers=3) -> EnsembleConfig:
    """Cheap PCA layers; the k ranges contain the planted branching factors."""
    cfg = EnsembleConfig(
        layers=[
            LayerConfig(k_range=(2, 6), reducer="pca", n_components=8),
            LayerConfig(k_range=(2, 3), reducer="pca", n_components=6),
            LayerConfig(k_range=(2, 4), reducer="pca", n_components=4),
        ],
        split=SplitRule(mode=mode, min_size=20),
        random_state=0,
    )
    return cfg.with_layers(layers)
