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
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}{where}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path}: the config must be a mapping with sections ingest, "
                "preprocess, embed, ensemble."
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
            raise ConfigError(f"{source}: invalid config: {problems}") from None
        # Validate the dataclass sections now, so errors surface before any work.
        config.ingest_config()
        config.preprocess_config()
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
        try:
            return PreprocessConfig(**self.preprocess)
        except TypeError as exc:
            raise ConfigError(f"preprocess section: {exc}") from None
