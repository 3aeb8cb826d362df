"""topicstrata: a hierarchy of use cases from business text, by a sequential ensemble of topic models."""

from __future__ import annotations

from topicstrata.errors import (
    ConfigError,
    DependencyError,
    InputError,
    MappingError,
    ModelError,
    PipelineError,
    TopicStrataError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DependencyError",
    "InputError",
    "MappingError",
    "ModelError",
    "PipelineError",
    "TopicStrataError",
    "__version__",
]
