"""Typed parameters: defaults, YAML and --param overrides, clear errors."""

from __future__ import annotations

import pytest

from topicstrata.errors import ConfigError
from topicstrata.pipeline import (
    ParameterBoolean,
    ParameterDict,
    ParameterFloat,
    ParameterInteger,
    ParameterList,
    ParameterString,
    load_config_file,
    parse_param_overrides,
)
from topicstrata.pipeline.params import resolve_parameters

PARAMS = [
    ParameterInteger("n", default=3),
    ParameterFloat("rate", default=0.5),
    ParameterString("mode", default="fast", choices=("fast", "slow")),
    ParameterBoolean("approve", default=False),
    ParameterList("levels", default=[2, 4]),
    ParameterDict("cfg", default={"layer": {"k": 5, "reducer": "pca"}, "seed": 0}),
]


def test_defaults():
    assert resolve_parameters(PARAMS) == {
        "n": 3,
        "rate": 0.5,
        "mode": "fast",
        "approve": False,
        "levels": [2, 4],
        "cfg": {"layer": {"k": 5, "reducer": "pca"}, "seed": 0},
    }


def test_cli_strings_are_parsed_to_declared_types():
    cli = parse_param_overrides(
        ["n=7", "rate=1", "mode=slow", "approve=yes", "levels=[1, 2, 3]", "cfg.layer.k=9"]
    )
    values = resolve_parameters(PARAMS, cli=cli)
    assert values["n"] == 7
    assert values["rate"] == 1.0 and isinstance(values["rate"], float)
    assert values["mode"] == "slow"
    assert values["approve"] is True
    assert values["levels"] == [1, 2, 3]
    assert values["cfg"] == {"layer": {"k": 9, "reducer": "pca"}, "seed": 0}


def test_yaml_config_deep_merges_and_cli_wins(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("parameters:\n  n: 10\n  cfg:\n    seed: 42\n", encoding="utf-8")
    values = resolve_parameters(PARAMS, load_config_file(cfg), {"n": "11"})
    assert values["n"] == 11
    assert values["cfg"] == {"layer": {"k": 5, "reducer": "pca"}, "seed": 42}


@pytest.mark.parametrize(
    ("cli", "fragment"),
    [
        ({"n": "three"}, "parameter 'n' expects an integer"),
        ({"rate": "fast"}, "parameter 'rate' expects a number"),
        ({"approve": "maybe"}, "parameter 'approve' expects true or false"),
        ({"mode": "medium"}, "parameter 'mode' must be one of fast, slow"),
        ({"nope": "1"}, "unknown parameter 'nope'"),
        ({"n.x": "1"}, "only dict parameters take dotted keys"),
    ],
)
def test_bad_cli_values_name_the_parameter(cli, fragment):
    with pytest.raises(ConfigError, match=fragment):
        resolve_parameters(PARAMS, cli=cli)


def test_bad_python_values_name_the_parameter():
    with pytest.raises(ConfigError, match="parameter 'n' expects an integer, got bool"):
        resolve_parameters(PARAMS, {"n": True})
    with pytest.raises(ConfigError, match="parameter 'mode' expects a string"):
        resolve_parameters(PARAMS, {"mode": 5})


def test_bad_default_and_bad_override_syntax():
    with pytest.raises(ConfigError, match="parameter 'k' expects an integer"):
        ParameterInteger("k", default="5")
    with pytest.raises(ConfigError, match="must look like key=value"):
        parse_param_overrides(["n"])


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping of parameter names"):
        load_config_file(bad)


def test_a_float_parameter_refuses_nan():
    # nan compares false with everything: min_npmi=nan made the quality gate refuse every
    # model (found by bench/fuzz.py's config target).
    param = ParameterFloat("min_npmi", default=-1.0)
    with pytest.raises(ConfigError, match=r"'min_npmi' expects a number, not nan"):
        param.parse("nan")
    with pytest.raises(ConfigError, match="not nan"):
        param.validate(float("nan"))
    assert param.parse(" 0.25 ") == 0.25
