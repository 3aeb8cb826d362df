"""The run configuration: one YAML file for ingest, preprocessing, embedding and the ensemble.

``strata fit --config CFG.yaml`` reads it; ``strata tune`` writes its best
parameters in the same shape. Every section is optional::

    ingest: {text_cols: [Title, Text], id_col: id}
    preprocess: {mode: fast}
    embed: {backend: minilm-onnx, batch_size: 64}
    ensemble:
      random_state: 0
      layers:
        - {k_range: [15, 25], reducer: umap}
        - {k_range: [2, 6]}
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from topicstrata.embed import DEFAULT_EMBEDDER, SamplingConfig
from topicstrata.ensemble import EnsembleConfig
from topicstrata.errors import ConfigError
from topicstrata.io import IngestConfig
from topicstrata.preprocess import PreprocessConfig


class EmbedConfig(BaseModel):
    """Which embedding backend, with its constructor options."""

    model_config = ConfigDict(extra="forbid")

    backend: str = DEFAULT_EMBEDDER
    batch_size: int = Field(64, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)
    #: The large-input path: the backend embeds a sample, a fitted student the rest.
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)


class EvaluateConfig(BaseModel):
    """How a fit scores itself."""

    model_config = ConfigDict(extra="forbid")

    #: Records used to measure layer-1 stability across two seeds (0: skip).
    stability_sample: int = Field(5000, ge=0)


class StrataConfig(BaseModel):
    """Everything ``strata fit`` needs besides the data path."""

    model_config = ConfigDict(extra="forbid")

    ingest: dict[str, Any] = Field(default_factory=dict)
    preprocess: dict[str, Any] = Field(default_factory=dict)
    embed: EmbedConfig = Field(default_factory=EmbedConfig)
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    #: Settings of ``strata tune`` / the pipeline's tuning step (``topicstrata.tune.TuneSettings``);
    #: ``strata fit`` ignores them, so one file can hold both.
    tune: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: str | Path) -> StrataConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; check the --config path.")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path}: byte {exc.start} is not valid UTF-8; re-save the config file as UTF-8."
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read the config file ({exc}); check the path."
            ) from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"{path}{where}: not valid YAML: {exc}; fix the indentation or quoting there."
            ) from None
        except RecursionError:
            raise ConfigError(
                f"{path}: the YAML is nested too deeply to read; a config has a few levels "
                "(sections, then options); fix the file."
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path}: the config must be a mapping with sections ingest, "
                "preprocess, embed, ensemble, evaluate, tune; write `section:` lines at the top."
            )
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> StrataConfig:
        try:
            config = cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(
                f"{source}: invalid config: {problems}. Fix or delete these keys "
                "(docs/configuration.md lists every option)."
            ) from None
        # Validate the dataclass sections now, so errors surface before any work.
        for section, check in (
            ("ingest", config.ingest_config),
            ("preprocess", config.preprocess_config),
        ):
            try:
                check()
            except ConfigError as exc:
                raise ConfigError(f"{source}: {section} section: {exc}") from None
        return config

    def to_yaml(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.model_dump(mode="json")
        if not data["tune"]:
            del data["tune"]  # an empty tune section is noise in a fit config
        text = yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    def ingest_config(self) -> IngestConfig:
        return IngestConfig.from_dict(self.ingest)

    def preprocess_config(self) -> PreprocessConfig:
        known = [f.name for f in dataclasses.fields(PreprocessConfig) if f.init]
        for key in self.preprocess:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    f"unknown preprocess option {key!r}; {hint}valid options: {', '.join(known)}."
                )
        return PreprocessConfig(**self.preprocess)
