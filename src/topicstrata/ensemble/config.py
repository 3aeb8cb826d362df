"""Configuration of an ensemble: one ``LayerConfig`` per layer, plus shared settings.

Pydantic models, so a YAML file (``strata fit --config``) validates with errors
that name the field, and ``model_dump`` gives the parameters for caching and
tracking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from topicstrata.errors import ConfigError
from topicstrata.layers import LayerModel, TopicRepresentation


class LayerConfig(BaseModel):
    """Parameters of every ``LayerModel`` fitted at one layer."""

    model_config = ConfigDict(extra="forbid")

    k_range: tuple[int, int] = (15, 25)
    reducer: Literal["umap", "pca", "none"] = "umap"
    n_components: int = Field(5, ge=1)
    n_neighbors: int = Field(15, ge=2)
    min_dist: float = Field(0.0, ge=0.0)
    metric: str = "cosine"
    global_step: Literal["kmeans", "ward", "ward-knn"] = "ward"
    threshold: float | Literal["auto"] = "auto"
    branching_factor: int = Field(50, ge=2)
    max_subclusters: int = Field(2000, ge=10)
    max_fit_samples: int = Field(50_000, ge=100)

    @field_validator("k_range")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 2 <= value[0] <= value[1]:
            raise ValueError("k_range needs 2 <= low <= high, e.g. [15, 25]")
        return value

    def build(self, random_state: int) -> LayerModel:
        """An unfitted ``LayerModel`` with these parameters."""
        params = self.model_dump()
        return LayerModel(**params, random_state=random_state)


class RepresentationConfig(BaseModel):
    """c-TF-IDF settings (see ``TopicRepresentation``)."""

    model_config = ConfigDict(extra="forbid")

    top_n_words: int = Field(10, ge=1)
    n_phrases: int = Field(5, ge=0)
    n_representatives: int = Field(5, ge=0)
    phrase_ngram_range: tuple[int, int] = (2, 3)
    min_df: int = Field(2, ge=1)
    bm25_weighting: bool = True
    reduce_frequent_words: bool = True
    core_share: float = Field(1.0, gt=0, le=1)
    #: ``distinct``: words that set a topic apart from its siblings (support, lift, KL
    #: rank; see ``TopicRepresentation``), each listed by at most ``max_topics_per_keyword``
    #: topics of a level; ``ctfidf``: BERTopic's c-TF-IDF top words.
    keyword_score: Literal["distinct", "ctfidf"] = "distinct"
    min_support: float = Field(0.05, ge=0, le=1)
    min_lift: float = Field(1.5, ge=1)
    max_topics_per_keyword: int | None = Field(1, ge=1)
    #: ``distinct``: a topic lists at least this many words (filled, scored 0, where fewer
    #: set it apart; see ``ensemble.keywords``).
    min_keywords: int = Field(2, ge=1)
    #: Keywords, phrases and flags of one parent's topics are read from at most this
    #: many of its records (each topic capped at an equal share); sizes count them all.
    max_samples: int = Field(50_000, ge=100)

    def build(self) -> TopicRepresentation:
        return TopicRepresentation(
            **self.model_dump(exclude={"max_samples", "max_topics_per_keyword"})
        )


class SplitRule(BaseModel):
    """Which topics the next layer splits by default, and the too-broad flags.

    A topic is flagged ``too_broad`` when it holds more than ``share_factor``
    times the average share of its siblings; ``dispersed`` when the mean cosine
    distance of its records to their centroid exceeds the siblings' median by
    ``dispersion_factor``; ``low_coherence`` when the NPMI of its top keywords
    is below ``min_coherence``; ``substructure`` when its records hold more than
    one group (gap statistic, see ``ensemble.flags``). With ``mode="structure"`` the
    topics flagged ``substructure`` are marked ``split`` in the mapping; with
    ``"flagged"`` every flagged topic; ``"all"`` splits every topic large enough
    and ``"none"`` none. Topics smaller than ``min_size`` are never split.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["structure", "flagged", "all", "none"] = "flagged"
    share_factor: float = Field(1.5, gt=0)
    dispersion_factor: float = Field(1.15, gt=0)
    min_coherence: float = -0.05
    min_size: int = Field(40, ge=4)


def _default_layers() -> list[LayerConfig]:
    return [
        LayerConfig(k_range=(15, 25)),
        LayerConfig(k_range=(2, 6)),
        LayerConfig(k_range=(2, 4)),
    ]


class EnsembleConfig(BaseModel):
    """Everything that shapes a fit; ``random_state`` seeds every layer."""

    model_config = ConfigDict(extra="forbid")

    layers: list[LayerConfig] = Field(default_factory=_default_layers, min_length=1)
    representation: RepresentationConfig = Field(default_factory=RepresentationConfig)
    split: SplitRule = Field(default_factory=SplitRule)
    random_state: int = 0
    #: Worker processes for the per-topic fits of a layer (-1: one per core).
    n_jobs: int = Field(-1, ge=-1)
    #: Fit per-topic models in processes only when a layer's models learn from at least
    #: this many records: each new process pays UMAP's ~20-30 s compilation first.
    parallel_min_rows: int = Field(20_000, ge=0)

    @classmethod
    def from_yaml(cls, path: str | Path) -> EnsembleConfig:
        """Load the ``ensemble:`` section (or the whole file) of a YAML config."""
        path = Path(path)
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
        if isinstance(data, dict) and "ensemble" in data:
            data = data["ensemble"]
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> EnsembleConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"{source}: invalid ensemble config: {problems}") from None

    def with_layers(self, n: int) -> EnsembleConfig:
        """This config cut or extended (repeating the last layer) to ``n`` layers."""
        if n < 1:
            raise ConfigError(f"--layers must be at least 1, got {n}")
        layers = list(self.layers[:n])
        while len(layers) < n:
            layers.append(layers[-1].model_copy())
        return self.model_copy(update={"layers": layers})
