"""K-fold cross-validation of one ensemble config on a fixed embedding matrix.

The records are split once into a probe set and ``K`` folds. For fold ``f`` the
ensemble is fitted on the other folds, then ``predict`` assigns fold ``f``
(scored by :func:`topicstrata.tune.loss.score_fold`) and the probe set (kept
for stability). No record is ever scored by a model fitted on it: the probe
set is fitted by no model, and a fold only by the models that hold it out.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from topicstrata.ensemble import Ensemble, EnsembleConfig
from topicstrata.errors import ConfigError
from topicstrata.tune import loss as _loss
from topicstrata.tune.loss import FoldScores, LossWeights

logger = logging.getLogger(__name__)

__all__ = ["CVResult", "Folds", "cross_validate", "make_folds"]

#: ``on_fold(fold_index, running_loss)``; may raise (e.g. ``optuna.TrialPruned``) to stop.
FoldCallback = Callable[[int, float], None]


@dataclass(frozen=True)
class Folds:
    """Disjoint held-out index sets and a probe set outside all of them."""

    test: list[NDArray[np.intp]]
    probe: NDArray[np.intp]
    n: int

    def train(self, f: int) -> NDArray[np.intp]:
        """Rows fitted when fold ``f`` is held out: every other fold (never the probe)."""
        return np.sort(np.concatenate([t for g, t in enumerate(self.test) if g != f]))


def make_folds(n: int, k: int, seed: int = 0, probe_share: float = 0.1) -> Folds:
    """Shuffle ``range(n)`` and cut a probe set (``probe_share``, at most 2,000) and ``k`` folds."""
    if k < 2:
        raise ConfigError(f"folds={k}: cross-validation needs at least 2 folds.")
    if not 0 <= probe_share < 0.5:
        raise ConfigError(f"probe_share={probe_share} must be in [0, 0.5).")
    order = np.random.default_rng(seed).permutation(n)
    n_probe = min(round(n * probe_share), 2000)
    probe, rest = np.sort(order[:n_probe]), order[n_probe:]
    if len(rest) < 2 * k:
        raise ConfigError(f"{n} records are too few for {k} folds; lower --folds or add data.")
    return Folds(test=[np.sort(part) for part in np.array_split(rest, k)], probe=probe, n=n)


@dataclass
class CVResult:
    """Per-fold scores, stability, and the loss (``inf`` when no fold finished)."""

    folds: list[FoldScores] = field(default_factory=list)
    stability: float = 0.0
    loss: float = math.inf

    def summary(self) -> dict[str, float]:
        """Mean of each term over folds, plus stability and loss."""
        out: dict[str, float] = {}
        if self.folds:
            frame = pd.DataFrame([f.as_dict() for f in self.folds])
            out = {k: float(v) for k, v in frame.mean().items()}
        return out | {"stability": self.stability, "loss": self.loss}


def cross_validate(
    embeddings: NDArray[np.float32],
    keyword_texts: Sequence[str],
    ids: Sequence[str],
    config: EnsembleConfig,
    folds: Folds,
    weights: LossWeights,
    labels: Mapping[str, Sequence[str | None]] | None = None,
    on_fold: FoldCallback | None = None,
) -> CVResult:
    """Fit on ``K-1`` folds, score the held-out one, repeat; then stability on the probe set."""
    X = np.asarray(embeddings, dtype=np.float32)
    ids_arr = np.asarray([str(i) for i in ids], dtype=object)
    kw = list(keyword_texts)
    tokens = [t.split() for t in kw]
    result = CVResult()
    probe_paths: list[list[str]] = []
    n_levels = len(config.layers)
    for f, test in enumerate(folds.test):
        train = folds.train(f)
        ensemble = Ensemble(config).fit(X[train], [kw[i] for i in train], ids=list(ids_arr[train]))
        held_out = ensemble.predict(X[test])
        held_out.index = pd.Index(ids_arr[test], name="id")
        fold_labels = {c: [v[i] for i in test] for c, v in labels.items()} if labels else None
        test_tokens = [tokens[i] for i in test]
        scores = _loss.score_fold(held_out, ensemble, test_tokens, fold_labels)
        gain = _loss.word_gain(
            ensemble.assignments_["path"].astype(str).to_numpy(),
            [tokens[i] for i in train],
            held_out["path"].astype(str).to_numpy(),
            test_tokens,
            ensemble.n_layers_,
        )
        scores = dataclasses.replace(scores, word_gain=gain)
        result.folds.append(scores)
        n_levels = ensemble.n_layers_
        if len(folds.probe):
            probe_paths.append(ensemble.predict(X[folds.probe])["path"].astype(str).tolist())
        running = float(np.mean([_loss.fold_loss(s, weights) for s in result.folds]))
        logger.debug("fold %d: %s (running loss %.4f)", f, scores, running)
        if on_fold is not None:
            on_fold(f, running)
    result.stability = _loss.stability_score(probe_paths, n_levels)
    result.loss = _loss.combine(result.folds, result.stability, weights)
    return result
