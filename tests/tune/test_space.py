"""The search space: trial values into a config, and the base config back into values."""

from __future__ import annotations

import optuna
import pytest

from topicstrata.config import StrataConfig
from topicstrata.errors import ConfigError
from topicstrata.tune import SearchSpace
from topicstrata.tune.space import base_params, default_space, label_params, suggest_config


def _round_trip(space: SearchSpace, base: StrataConfig) -> StrataConfig:
    return suggest_config(optuna.trial.FixedTrial(base_params(space, base)), space, base)


def test_the_default_config_is_a_point_of_its_default_space():
    base = StrataConfig()
    space = default_space(base)
    params = base_params(space, base)
    assert params["l1.k_low"] == 15 and params["l1.k_span"] == 10
    assert params["l1.threshold_mode"] == "auto" and "l1.threshold" not in params
    assert params["repr.phrase_ngram_range"] == "2-3" and params["split.mode"] == "flagged"
    # FixedTrial raises on any parameter suggest_config asks for and base_params left out.
    assert _round_trip(space, base) == base


def test_a_fixed_threshold_and_a_searched_embedder_round_trip():
    base = StrataConfig.from_dict(
        {
            "embed": {"backend": "static"},
            "ensemble": {"layers": [{"k_range": [6, 9], "threshold": 0.1, "reducer": "pca"}]},
        }
    )
    space = SearchSpace.model_validate(
        {
            "layers": [
                {
                    "reducer": ["umap", "pca"],
                    "k_low": [4, 10],
                    "k_span": [0, 5],
                    "threshold": {"auto": True, "low": 0.05, "high": 0.5},
                }
            ],
            "embedders": ["tfidf-svd", "static"],
            "embedder_selection": "search",
        }
    )
    params = base_params(space, base)
    assert params["l1.threshold_mode"] == "fixed" and params["l1.threshold"] == 0.1
    assert params["embedder"] == "static"
    assert _round_trip(space, base) == base


def test_base_values_outside_the_space_are_left_to_the_sampler():
    base = StrataConfig.from_dict({"ensemble": {"layers": [{"k_range": [40, 45]}]}})
    space = SearchSpace.model_validate(
        {"layers": [{"k_low": [5, 20], "k_span": [0, 10], "min_dist": [0.1, 0.5]}]}
    )
    params = base_params(space, base)
    assert "l1.k_low" not in params and "l1.min_dist" not in params  # 40 and 0.0 are outside
    assert params["l1.k_span"] == 5
    with pytest.raises(ValueError):  # FixedTrial: a left-out value must be sampled
        _round_trip(space, base)


def test_a_space_with_more_layers_than_the_base_is_a_config_error():
    base = StrataConfig.from_dict({"ensemble": {"layers": [{"k_range": [5, 7]}]}})
    space = SearchSpace.model_validate({"layers": [{"k_low": [2, 4]}, {"k_low": [2, 4]}]})
    with pytest.raises(ConfigError, match="2 layers but the base config only 1"):
        suggest_config(optuna.trial.FixedTrial({"l1.k_low": 3, "l2.k_low": 3}), space, base)


def test_label_params_read_k_and_split_off_the_label_hierarchy():
    base = StrataConfig()
    space = default_space(base)  # l1 k_low [7, 30]; l2 k_low [2, 4], k_span [0, 4]
    l1 = ["a"] * 6 + ["b"] * 6 + ["c"] * 6 + ["d"] * 6 + ["e"] * 6 + ["f"] * 6 + ["g"] * 6
    l2 = [f"{p}{i % 3}" for i, p in enumerate(l1)]  # three children under each parent
    l2[0] = "a9"  # ... and four under "a"
    params = label_params(space, base, {"l1": l1, "l2": l2})
    assert params is not None
    assert params["l1.k_low"] == 7 and params["l1.k_span"] == 0
    assert params["l2.k_low"] == 3 and params["l2.k_span"] == 1
    assert params["split.mode"] == "all"
    assert params["l1.n_neighbors"] == base.ensemble.layers[0].n_neighbors  # the rest: base
    config = suggest_config(optuna.trial.FixedTrial(params), space, base)
    assert config.ensemble.layers[0].k_range == (7, 7)
    assert config.ensemble.layers[1].k_range == (3, 4)
    assert config.ensemble.split.mode == "all"


def test_label_params_clamp_into_the_space_and_need_labels():
    base = StrataConfig()
    space = default_space(base)
    params = label_params(space, base, {"l1": ["x", "y"] * 10})  # 2 classes, k_low >= 7
    assert params is not None and params["l1.k_low"] == 7
    assert params["split.mode"] == "flagged"  # one label level says nothing about splits
    assert label_params(space, base, {}) is None
