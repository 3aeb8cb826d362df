"""The search space: trial values into a config, and the base config back into values."""

from __future__ import annotations

import optuna
import pytest

from topicstrata.config import StrataConfig
from topicstrata.errors import ConfigError
from topicstrata.tune import SearchSpace
from topicstrata.tune.space import base_params, default_space, suggest_config


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
