"""The search space: which parameters a study varies, and how a trial turns into a config.

A dimension is written in YAML (or Python) in one of three forms::

    n_neighbors: [5, 50]                 # two numbers: an int or float range
    min_dist: {low: 0.0, high: 0.5}      # a range with options (log, step)
    reducer: {choices: [umap, pca]}      # a categorical choice
    bm25_weighting: [true, false]        # a list of non-numbers: categorical too

A dimension left out (``None``) keeps the base config's value. The BIRCH
threshold is special: ``{auto: true, low: 0.02, high: 0.5}`` lets a trial pick
``"auto"`` or a float from the range.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, Field, model_validator

from topicstrata.config import StrataConfig
from topicstrata.ensemble import LayerConfig
from topicstrata.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_EMBEDDERS",
    "Choice",
    "LayerSpace",
    "Range",
    "RepresentationSpace",
    "SearchSpace",
    "ThresholdSpace",
    "base_params",
    "default_space",
    "label_params",
    "suggest_config",
]

#: Plain layer dimensions, in the order ``_suggest_layer`` samples them and
#: ``base_params`` reads them back (k, reducer and threshold are handled apart).
_LAYER_DIMS = ("n_components", "n_neighbors", "min_dist", "global_step", "branching_factor")

#: Backends the embedding ranking compares by default: neural, static, lexical.
DEFAULT_EMBEDDERS = ("minilm-onnx", "static", "tfidf-svd")


class Range(BaseModel):
    """A numeric range; ints when both ends are ints."""

    model_config = ConfigDict(extra="forbid")

    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) == 2 and all(map(_is_number, value)):
            value = {"low": value[0], "high": value[1]}
        if isinstance(value, dict) and "integer" not in value:
            ends = (value.get("low"), value.get("high"))
            value = {**value, "integer": all(isinstance(v, int) for v in ends)}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"range low={self.low} is above high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a point of this range (for enqueuing a known config)."""
        if not _is_number(value) or not self.low <= value <= self.high:
            return False
        return not self.integer or float(value).is_integer()

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> int | float:
        if self.integer:
            step = int(self.step or 1)
            return trial.suggest_int(name, int(self.low), int(self.high), step=step, log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)


class Choice(BaseModel):
    """A categorical dimension."""

    model_config = ConfigDict(extra="forbid")

    choices: list[Any] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {"choices": list(value)}
        return value

    def contains(self, value: Any) -> bool:
        return _encode(value) in [_encode(c) for c in self.choices]

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> Any:
        # Optuna stores categorical values as JSON scalars: encode lists (n-gram ranges).
        encoded = [_encode(c) for c in self.choices]
        picked = trial.suggest_categorical(name, encoded)
        return _decode(picked)


def _dimension(value: Any) -> Range | Choice | None:
    if value is None or isinstance(value, Range | Choice):
        return value
    if isinstance(value, dict):
        return Choice.model_validate(value) if "choices" in value else Range.model_validate(value)
    if isinstance(value, list | tuple):
        if len(value) == 2 and all(map(_is_number, value)):
            return Range.model_validate(value)
        return Choice.model_validate(value)
    return Choice(choices=[value])


class _Dimensions(BaseModel):
    """Base for sections whose fields are dimensions given in shorthand."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        special = {"threshold"}
        return {k: (v if k in special else _dimension(v)) for k, v in value.items()}


class ThresholdSpace(BaseModel):
    """BIRCH threshold: ``"auto"`` (data-scaled) and/or a float range."""

    model_config = ConfigDict(extra="forbid")

    auto: bool = True
    low: float | None = None
    high: float | None = None
    log: bool = True

    @model_validator(mode="after")
    def _something(self) -> ThresholdSpace:
        if (self.low is None) != (self.high is None):
            raise ValueError("threshold needs both low and high, or neither")
        if not self.auto and self.low is None:
            raise ValueError("threshold: allow auto, or give a low/high range")
        if self.low is not None and self.high is not None and not 0 < self.low <= self.high:
            raise ValueError("threshold range needs 0 < low <= high")
        return self

    def params(self, name: str, value: float | str) -> dict[str, Any]:
        """The trial parameters that reproduce ``value`` (empty when outside the space)."""
        if value == "auto":
            if self.low is None or not self.auto:
                return {}
            return {f"{name}_mode": "auto"}
        if self.low is None or self.high is None or not self.low <= float(value) <= self.high:
            return {}
        return ({f"{name}_mode": "fixed"} if self.auto else {}) | {name: float(value)}

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> float | Literal["auto"]:
        if self.low is None or self.high is None:
            return "auto"
        mode = "fixed"
        if self.auto:
            mode = trial.suggest_categorical(f"{name}_mode", ["auto", "fixed"])
        if mode == "auto":
            return "auto"
        return trial.suggest_float(name, self.low, self.high, log=self.log)


class LayerSpace(_Dimensions):
    """Dimensions of one layer; ``k_low``/``k_span`` give ``k_range = (lo, lo + span)``."""

    k_low: Range | Choice | None = None
    k_span: Range | Choice | None = None
    reducer: Range | Choice | None = None
    n_components: Range | Choice | None = None
    n_neighbors: Range | Choice | None = None
    min_dist: Range | Choice | None = None
    global_step: Range | Choice | None = None
    threshold: ThresholdSpace | None = None
    branching_factor: Range | Choice | None = None


class RepresentationSpace(_Dimensions):
    """c-TF-IDF dimensions (they change keywords, so coherence and diversity)."""

    top_n_words: Range | Choice | None = None
    phrase_ngram_range: Range | Choice | None = None
    min_df: Range | Choice | None = None
    bm25_weighting: Range | Choice | None = None
    reduce_frequent_words: Range | Choice | None = None


class SearchSpace(BaseModel):
    """Per-layer, representation, split and embedder dimensions.

    ``layers[i]`` varies layer ``i + 1`` of the base config; base layers beyond
    the list stay fixed. ``embedders`` lists the backends to compare: with
    ``embedder_selection="rank"`` each is scored once with the base ensemble
    and the winner is fixed for the search; with ``"search"`` the backend is one
    more categorical dimension of every trial.
    """

    model_config = ConfigDict(extra="forbid")

    layers: list[LayerSpace] = Field(default_factory=list)
    representation: RepresentationSpace = Field(default_factory=RepresentationSpace)
    split_mode: Choice | None = None
    embedders: list[str] = Field(default_factory=list)
    embedder_selection: Literal["rank", "search"] = "rank"

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, dict) and "split_mode" in value:
            value = {**value, "split_mode": _dimension(value["split_mode"])}
        return value

    @classmethod
    def from_dict(cls, data: Any, source: str = "tune.space") -> SearchSpace:
        try:
            return cls.model_validate(data or {})
        except ValueError as exc:
            raise ConfigError(f"{source}: invalid search space: {exc}") from None


def default_space(base: StrataConfig) -> SearchSpace:
    """A space around the base config: k, reducer settings, BIRCH, c-TF-IDF, split mode."""
    layers = []
    for i, layer in enumerate(base.ensemble.layers):
        lo, hi = layer.k_range
        space: dict[str, Any] = {
            "k_low": [max(2, lo // 2), max(2, lo * 2)] if i == 0 else [2, max(3, lo + 2)],
            "k_span": [0, max(2, hi - lo)],
            "branching_factor": [20, 100],
            "threshold": ThresholdSpace(auto=True, low=0.02, high=0.5),
        }
        if layer.reducer == "umap":
            space |= {"n_neighbors": [5, 50], "n_components": [2, 15], "min_dist": [0.0, 0.5]}
        elif layer.reducer == "pca":
            space |= {"n_components": [2, 30]}
        layers.append(LayerSpace.model_validate(space))
    data: dict[str, Any] = {
        "layers": layers,
        "representation": {
            "phrase_ngram_range": {"choices": [[1, 2], [2, 3]]},
            "min_df": [1, 5],
            "bm25_weighting": [True, False],
        },
        "embedders": list(DEFAULT_EMBEDDERS),
    }
    if len(base.ensemble.layers) > 1:
        data["split_mode"] = ["flagged", "structure", "all"]
    return SearchSpace.model_validate(data)


def suggest_config(
    trial: optuna.trial.BaseTrial,
    space: SearchSpace,
    base: StrataConfig,
    embedder: str | None = None,
) -> StrataConfig:
    """The base config with this trial's values; ``embedder`` fixes the backend when given."""
    ensemble = base.ensemble.model_dump()
    if len(space.layers) > len(ensemble["layers"]):
        raise ConfigError(
            f"the search space has {len(space.layers)} layers but the base config only "
            f"{len(ensemble['layers'])}; add layers to the base config or drop them from "
            "tune.space.layers."
        )
    for i, layer_space in enumerate(space.layers):
        layers = ensemble["layers"]
        layers[i] = _suggest_layer(trial, f"l{i + 1}", layer_space, layers[i])
    rep = ensemble["representation"]
    for name in RepresentationSpace.model_fields:
        dim = getattr(space.representation, name)
        if dim is not None:
            rep[name] = dim.suggest(trial, f"repr.{name}")
    if space.split_mode is not None:
        ensemble["split"]["mode"] = space.split_mode.suggest(trial, "split.mode")

    embed = base.embed.model_dump()
    if embedder is None and space.embedder_selection == "search" and space.embedders:
        embedder = Choice(choices=list(space.embedders)).suggest(trial, "embedder")
    if embedder is not None and embedder != embed["backend"]:
        embed = {**embed, "backend": embedder, "options": {}}
    return StrataConfig.from_dict(
        {**base.model_dump(), "ensemble": ensemble, "embed": embed}, source="trial"
    )


def base_params(space: SearchSpace, base: StrataConfig) -> dict[str, Any]:
    """The trial parameters under which ``suggest_config`` gives back ``base``.

    The inverse of ``suggest_config`` for the base config: ``tune`` enqueues it
    as the first trial of a new study, so the defaults are always a candidate
    and the best trial is never worse than them on the cross-validated loss.
    A base value outside its dimension is left out; the sampler fills it in.
    """
    params: dict[str, Any] = {}
    layers = base.ensemble.layers

    def put(name: str, dim: Range | Choice | None, value: Any) -> None:
        if dim is not None and dim.contains(value):
            params[name] = _encode(value) if isinstance(dim, Choice) else value

    for i, layer_space in enumerate(space.layers[: len(layers)]):
        layer, prefix = layers[i], f"l{i + 1}"
        put(f"{prefix}.reducer", layer_space.reducer, layer.reducer)
        lo, hi = layer.k_range
        put(f"{prefix}.k_low", layer_space.k_low, lo)
        put(f"{prefix}.k_span", layer_space.k_span, hi - lo)
        for name in _LAYER_DIMS:
            put(f"{prefix}.{name}", getattr(layer_space, name), getattr(layer, name))
        if layer_space.threshold is not None:
            params |= layer_space.threshold.params(f"{prefix}.threshold", layer.threshold)
    rep = base.ensemble.representation
    for name in RepresentationSpace.model_fields:
        put(f"repr.{name}", getattr(space.representation, name), getattr(rep, name))
    put("split.mode", space.split_mode, base.ensemble.split.mode)
    if space.embedder_selection == "search" and space.embedders:
        put("embedder", Choice(choices=list(space.embedders)), base.embed.backend)
    return params


def label_params(
    space: SearchSpace, base: StrataConfig, labels: Mapping[str, Sequence[Any]]
) -> dict[str, Any] | None:
    """A starting point read off the label hierarchy (columns coarsest first), or None.

    Layer 1 gets ``k = `` the number of level-1 classes; layer ``d`` gets the
    range of the number of level-``d`` classes under one level-``d-1`` class;
    with two or more label levels ``split.mode`` is ``all``, because every class
    of a labelled level has children. Other dimensions keep the base values
    (``base_params``). Values are clamped into their dimensions. The point uses
    only the records being tuned on; the held-out folds still score it like any
    other trial.
    """
    columns = [list(v) for v in labels.values()][: len(space.layers)]
    if not columns or not space.layers:
        return None
    params = base_params(space, base)

    def put(name: str, dim: Range | Choice | None, value: int) -> None:
        if isinstance(dim, Range):
            params[name] = int(min(max(value, dim.low), dim.high))
        elif isinstance(dim, Choice) and dim.contains(value):
            params[name] = value

    first = {v for v in columns[0] if v is not None}
    put("l1.k_low", space.layers[0].k_low, len(first))
    put("l1.k_span", space.layers[0].k_span, 0)
    for depth in range(2, len(columns) + 1):
        children: dict[Any, set[Any]] = {}
        for parent, child in zip(columns[depth - 2], columns[depth - 1], strict=True):
            if parent is not None and child is not None:
                children.setdefault(parent, set()).add(child)
        counts = [len(c) for c in children.values()] or [2]
        lo, hi = max(2, min(counts)), max(2, max(counts))
        layer = space.layers[depth - 1]
        put(f"l{depth}.k_low", layer.k_low, lo)
        put(f"l{depth}.k_span", layer.k_span, hi - lo)
    # Split everything only where the labels say every class has children.
    if len(columns) > 1 and space.split_mode is not None and space.split_mode.contains("all"):
        params["split.mode"] = "all"
    return params


def _suggest_layer(
    trial: optuna.trial.BaseTrial, prefix: str, space: LayerSpace, layer: dict[str, Any]
) -> dict[str, Any]:
    out = dict(layer)
    if space.reducer is not None:
        out["reducer"] = space.reducer.suggest(trial, f"{prefix}.reducer")
    lo, hi = out["k_range"]
    span = hi - lo
    if space.k_low is not None:
        lo = max(2, int(space.k_low.suggest(trial, f"{prefix}.k_low")))
    if space.k_span is not None:
        span = int(space.k_span.suggest(trial, f"{prefix}.k_span"))
    out["k_range"] = (lo, lo + max(0, span))
    umap_only = {"n_neighbors", "min_dist"}
    for name in _LAYER_DIMS:
        dim = getattr(space, name)
        if dim is None or (name in umap_only and out["reducer"] != "umap"):
            continue
        if name == "n_components" and out["reducer"] == "none":
            continue
        out[name] = dim.suggest(trial, f"{prefix}.{name}")
    if space.threshold is not None:
        out["threshold"] = space.threshold.suggest(trial, f"{prefix}.threshold")
    LayerConfig.model_validate(out)  # fail on this trial's values, naming the field
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _encode(value: Any) -> Any:
    return "-".join(map(str, value)) if isinstance(value, list | tuple) else value


def _decode(value: Any) -> Any:
    if isinstance(value, str) and "-" in value:
        parts = value.split("-")
        if all(p.isdigit() for p in parts):
            return [int(p) for p in parts]
    return value
