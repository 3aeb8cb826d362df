"""topicstrata: a hierarchy of use cases from business text.

Built by a sequential ensemble of topic models; see ``README.md``.

The public API is flat (``from topicstrata import Ensemble, LayerModel``).
Names are imported on first use, so ``import topicstrata`` (and the CLI's
``--help``) stays fast; the error classes are always loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from topicstrata._version import __version__
from topicstrata.errors import (
    ConfigError,
    DependencyError,
    InputError,
    MappingError,
    ModelError,
    OutputError,
    PipelineError,
    TopicStrataError,
)

_LAZY: dict[str, str] = {
    # ingest
    "IngestConfig": "topicstrata.io",
    "read_records": "topicstrata.io",
    "write_table": "topicstrata.io",
    "RowReport": "topicstrata.io",
    # text views and embeddings
    "PreprocessConfig": "topicstrata.preprocess",
    "preprocess": "topicstrata.preprocess",
    "clean_for_embedding": "topicstrata.preprocess",
    "get_embedder": "topicstrata.embed",
    "embed_texts": "topicstrata.embed",
    # models
    "LayerModel": "topicstrata.layers",
    "TopicRepresentation": "topicstrata.layers",
    "Ensemble": "topicstrata.ensemble",
    "EnsembleConfig": "topicstrata.ensemble",
    "LayerConfig": "topicstrata.ensemble",
    "TopicPredictor": "topicstrata.ensemble.predictor",
    "save_ensemble": "topicstrata.ensemble",
    "load_ensemble": "topicstrata.ensemble",
    # mapping
    "Mapping": "topicstrata.mapping",
    "load_mapping": "topicstrata.mapping",
    "dump_mapping": "topicstrata.mapping",
    # runs
    "StrataConfig": "topicstrata.config",
    "run_fit": "topicstrata.pipeline.fit",
    "evaluate_assignments": "topicstrata.evaluate",
    # synthetic data
    "make_opportunities": "topicstrata.synth",
    "write_opportunities": "topicstrata.synth",
}

__all__ = [
    "ConfigError",
    "DependencyError",
    "Ensemble",
    "EnsembleConfig",
    "IngestConfig",
    "InputError",
    "LayerConfig",
    "LayerModel",
    "Mapping",
    "MappingError",
    "ModelError",
    "OutputError",
    "PipelineError",
    "PreprocessConfig",
    "RowReport",
    "StrataConfig",
    "TopicPredictor",
    "TopicRepresentation",
    "TopicStrataError",
    "__version__",
    "clean_for_embedding",
    "dump_mapping",
    "embed_texts",
    "evaluate_assignments",
    "get_embedder",
    "load_ensemble",
    "load_mapping",
    "make_opportunities",
    "preprocess",
    "read_records",
    "run_fit",
    "save_ensemble",
    "write_opportunities",
    "write_table",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'topicstrata' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from topicstrata.config import StrataConfig
    from topicstrata.embed import embed_texts, get_embedder
    from topicstrata.ensemble import (
        Ensemble,
        EnsembleConfig,
        LayerConfig,
        load_ensemble,
        save_ensemble,
    )
    from topicstrata.ensemble.predictor import TopicPredictor
    from topicstrata.evaluate import evaluate_assignments
    from topicstrata.io import IngestConfig, RowReport, read_records, write_table
    from topicstrata.layers import LayerModel, TopicRepresentation
    from topicstrata.mapping import Mapping, dump_mapping, load_mapping
    from topicstrata.pipeline.fit import run_fit
    from topicstrata.preprocess import PreprocessConfig, clean_for_embedding, preprocess
    from topicstrata.synth import make_opportunities, write_opportunities
