"""topicstrata: a hierarchy of use cases from business text.

Built by a sequential ensemble of topic models; see ``README.md``.
"""

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
