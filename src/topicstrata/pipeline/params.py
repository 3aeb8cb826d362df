"""Typed pipeline parameters with defaults, overridden from YAML or ``--param k=v``.

A parameter object doubles as an input reference: pass it in a step's
``inputs`` and the step receives its resolved value, which also enters that
step's cache key (and only that step's). Precedence, lowest first: default,
config file, command line.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from topicstrata.errors import ConfigError

__all__ = [
    "Parameter",
    "ParameterBoolean",
    "ParameterDict",
    "ParameterFloat",
    "ParameterInteger",
    "ParameterList",
    "ParameterString",
    "load_config_file",
    "parse_param_overrides",
    "resolve_parameters",
]

_TRUE = {"true", "1", "yes", "on", "y"}
_FALSE = {"false", "0", "no", "off", "n"}


@dataclass(frozen=True, eq=False)
class Parameter:
    """A named, typed pipeline parameter with a default value."""

    name: str
    default: Any = None
    description: str = ""
    type_name: ClassVar[str] = "any"

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "a").isalnum():
            raise ConfigError(
                f"parameter name {self.name!r} is invalid; use letters, digits and underscores"
            )
        if self.default is not None:
            object.__setattr__(self, "default", self.validate(self.default))

    def validate(self, value: Any) -> Any:
        """Check and normalise a Python value (from YAML or code); raise ConfigError."""
        return value

    def parse(self, raw: str) -> Any:
        """Parse a command-line string into this parameter's type."""
        return self.validate(raw)

    def _bad(self, value: Any, expected: str, hint: str = "") -> ConfigError:
        extra = f"; {hint}" if hint else ""
        return ConfigError(
            f"parameter {self.name!r} expects {expected}, "
            f"got {type(value).__name__} {value!r}{extra}"
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (name, type, default, description)."""
        return {
            "name": self.name,
            "type": self.type_name,
            "default": self.default,
            "description": self.description,
        }


@dataclass(frozen=True, eq=False)
class ParameterString(Parameter):
    """A string parameter, optionally restricted to ``choices``."""

    choices: tuple[str, ...] | None = None
    type_name: ClassVar[str] = "string"

    def validate(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise self._bad(value, "a string", "quote the value in YAML")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(
                f"parameter {self.name!r} must be one of {', '.join(self.choices)}; got {value!r}"
            )
        return value


@dataclass(frozen=True, eq=False)
class ParameterInteger(Parameter):
    """An integer parameter."""

    type_name: ClassVar[str] = "integer"

    def validate(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(value, "an integer")
        return value

    def parse(self, raw: str) -> Any:
        try:
            return int(raw.strip())
        except ValueError:
            raise self._bad(raw, "an integer") from None


@dataclass(frozen=True, eq=False)
class ParameterFloat(Parameter):
    """A floating-point parameter (integers are accepted and converted)."""

    type_name: ClassVar[str] = "float"

    def validate(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(value, "a number")
        if math.isnan(value):  # compares false with everything: a gate would refuse all
            raise self._bad(value, "a number, not nan")
        return float(value)

    def parse(self, raw: str) -> Any:
        try:
            number = float(raw.strip())
        except ValueError:
            raise self._bad(raw, "a number") from None
        return self.validate(number)


@dataclass(frozen=True, eq=False)
class ParameterBoolean(Parameter):
    """A boolean parameter; the command line accepts true/false, yes/no, 1/0, on/off."""

    type_name: ClassVar[str] = "boolean"

    def validate(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise self._bad(value, "true or false")
        return value

    def parse(self, raw: str) -> Any:
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self._bad(raw, "true or false")


def _parse_yaml(param: Parameter, raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        msg = f"parameter {param.name!r}: cannot parse {raw!r} as YAML ({exc})"
        raise ConfigError(msg) from None


@dataclass(frozen=True, eq=False)
class ParameterList(Parameter):
    """A list parameter; on the command line write it as YAML/JSON, e.g. ``[1, 2]``."""

    type_name: ClassVar[str] = "list"

    def validate(self, value: Any) -> Any:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise self._bad(value, "a list")
        return copy.deepcopy(value)

    def parse(self, raw: str) -> Any:
        return self.validate(_parse_yaml(self, raw))


@dataclass(frozen=True, eq=False)
class ParameterDict(Parameter):
    """A nested configuration mapping.

    Overrides are deep-merged into the default, so a config file or
    ``--param name.key.sub=value`` changes one leaf and keeps the rest.
    """

    type_name: ClassVar[str] = "dict"

    def validate(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise self._bad(value, "a mapping")
        return copy.deepcopy(dict(value))

    def parse(self, raw: str) -> Any:
        return self.validate(_parse_yaml(self, raw))


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_param_overrides(items: Iterable[str]) -> dict[str, str]:
    """Split ``key=value`` strings (as given to ``--param``); values stay strings."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r} must look like key=value")
        out[key.strip()] = value
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read parameter values from YAML (a top-level ``parameters:`` section is optional)."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {file} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
        data = data["parameters"]
    if not isinstance(data, dict):
        raise ConfigError(f"config file {file} must hold a mapping of parameter names to values")
    return data


def _unknown(name: str, declared: Mapping[str, Parameter], source: str) -> ConfigError:
    known = ", ".join(sorted(declared)) or "(none)"
    return ConfigError(f"unknown parameter {name!r} in {source}; declared parameters: {known}")


def resolve_parameters(
    declared: Sequence[Parameter],
    values: Mapping[str, Any] | None = None,
    cli: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Final parameter values: defaults, then ``values`` (Python/YAML), then ``cli`` strings.

    ``cli`` keys may be dotted (``cfg.layers.k``) to set one leaf of a
    ``ParameterDict``. Every error names the parameter.
    """
    by_name = {p.name: p for p in declared}
    resolved: dict[str, Any] = {p.name: copy.deepcopy(p.default) for p in declared}
    for name, value in (values or {}).items():
        if name not in by_name:
            raise _unknown(name, by_name, "the configuration")
        param = by_name[name]
        if isinstance(param, ParameterDict) and isinstance(resolved[name], dict):
            resolved[name] = param.validate(_deep_merge(resolved[name], param.validate(value)))
        else:
            resolved[name] = param.validate(value)
    for key, raw in (cli or {}).items():
        name, _, path = key.partition(".")
        if name not in by_name:
            raise _unknown(name, by_name, "--param")
        param = by_name[name]
        if path:
            if not isinstance(param, ParameterDict):
                raise ConfigError(
                    f"--param {key}: only dict parameters take dotted keys; "
                    f"{name!r} is a {param.type_name}"
                )
            leaf: Any = _parse_yaml(param, raw)
            for part in reversed(path.split(".")):
                leaf = {part: leaf}
            current = resolved[name] if isinstance(resolved[name], dict) else {}
            resolved[name] = _deep_merge(current, leaf)
        elif isinstance(param, ParameterDict) and isinstance(resolved[name], dict):
            resolved[name] = _deep_merge(resolved[name], param.parse(raw))
        else:
            resolved[name] = param.parse(raw)
    return resolved
