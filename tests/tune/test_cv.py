"""Cross-validation never scores a record with a model that was fitted on it."""

from __future__ import annotations

import numpy as np
import pytest

from _support.hierarchy import make_hierarchy, pca_config
from topicstrata.ensemble import Ensemble
from topicstrata.errors import ConfigError
from topicstrata.tune import LossWeights, cross_validate, make_folds
from topicstrata.tune import cv as cv_module
from topicstrata.tune import loss as loss_module
from topicstrata.tune.loss import level_keywords


def test_folds_are_disjoint_and_probe_is_never_fitted():
    folds = make_folds(1000, 4, seed=3, probe_share=0.1)
    tests = [set(t.tolist()) for t in folds.test]
    probe = set(folds.probe.tolist())
    assert len(probe) == 100
    for i, a in enumerate(tests):
        assert not a & probe
        assert not a & set(folds.train(i).tolist())
        for b in tests[i + 1 :]:
            assert not a & b
    assert set().union(*tests) | probe == set(range(1000))
    for i in range(4):
        assert not probe & set(folds.train(i).tolist())


def test_too_few_records_or_folds_fail_clearly():
    with pytest.raises(ConfigError, match="at least 2 folds"):
        make_folds(100, 1)
    with pytest.raises(ConfigError, match="too few"):
        make_folds(5, 3, probe_share=0.0)


def test_scorer_only_sees_held_out_records(monkeypatch, tune_data, base_config):
    fitted: list[set[str]] = []
    scored: list[set[str]] = []
    predicted: list[int] = []

    class SpyEnsemble(Ensemble):
        def fit(self, embeddings, keyword_texts, ids=None, **kwargs):
            fitted.append(set(ids))
            return super().fit(embeddings, keyword_texts, ids=ids, **kwargs)

        def predict(self, embeddings, texts=None):
            predicted.append(len(embeddings))
            return super().predict(embeddings, texts)

    real_score = loss_module.score_fold

    def spy_score(assignments, ensemble, tokens, labels=None):
        scored.append(set(assignments.index))
        assert len(tokens) == len(assignments)
        assert all(len(v) == len(assignments) for v in (labels or {}).values())
        return real_score(assignments, ensemble, tokens, labels)

    monkeypatch.setattr(cv_module, "Ensemble", SpyEnsemble)
    monkeypatch.setattr(loss_module, "score_fold", spy_score)
    folds = make_folds(len(tune_data), 3, seed=0)
    result = cross_validate(
        tune_data.embeddings["tfidf-svd"],
        tune_data.keyword_texts,
        tune_data.ids,
        base_config.ensemble,
        folds,
        LossWeights(),
        tune_data.labels,
    )
    assert len(fitted) == len(scored) == 3
    ids = np.asarray(tune_data.ids)
    probe = set(ids[folds.probe])
    for f, (train_ids, test_ids) in enumerate(zip(fitted, scored, strict=True)):
        assert test_ids == set(ids[folds.test[f]])
        assert not train_ids & test_ids
        assert not train_ids & probe
    # Each fold model also assigns the probe set, for stability.
    assert predicted.count(len(folds.probe)) == 3
    assert np.isfinite(result.loss) and -0.5 <= result.stability <= 1.0
    # TF-IDF + PCA recovers the planted first level on held-out records.
    assert result.summary()["labels"] > 0.3


def test_level_keywords_follow_the_fitted_tree():
    # The seeded hierarchy has 4/12/24 topics; every level's keywords name that level.
    h = make_hierarchy()
    ensemble = Ensemble(pca_config()).fit(h.X, h.keywords, h.ids, h.texts)
    levels = level_keywords(ensemble)
    assert [len(words) for words in levels] == [4, 12, 24]
    assert all(any(w.startswith("top") for w in words[:3]) for words in levels[0])
    assert all(any(w.startswith("leaf") for w in words[:3]) for words in levels[2])


def test_the_loss_scores_ctfidf_words_whichever_keywords_are_shown(tune_data, base_config):
    def loss(score):
        ensemble = base_config.ensemble
        config = ensemble.model_copy(
            update={
                "representation": ensemble.representation.model_copy(
                    update={"keyword_score": score}
                )
            }
        )
        folds = make_folds(len(tune_data), 3, seed=0)
        X = tune_data.embeddings["tfidf-svd"]
        return cross_validate(
            X, tune_data.keyword_texts, tune_data.ids, config, folds, LossWeights()
        ).loss

    assert loss("distinct") == loss("ctfidf")
