"""The exceptions topicstrata raises.

Every error a user can cause derives from one root, so callers (the CLI, the
HTTP API, the studio) can catch ``TopicStrataError`` and show its message
without a traceback. Leaves also subclass the built-in they resemble, so
``except ValueError`` keeps working::

    TopicStrataError
    ├── InputError (ValueError)          bad input data: file, format, column, row
    ├── ConfigError (ValueError)         bad configuration or parameters
    ├── MappingError (ValueError)        invalid mapping file (names the line)
    ├── ModelError (RuntimeError)        unfitted, corrupt or mismatched models
    ├── PipelineError (RuntimeError)     DAG, step, cache or run-store failures
    ├── OutputError (OSError)            an output cannot be written: disk full,
    │                                    read-only, locked by another writer
    └── DependencyError (ImportError)    an optional component is not installed

Messages say what is wrong, where (file, line, row, column) and what to do.
"""

from __future__ import annotations

import errno

__all__ = [
    "ConfigError",
    "DependencyError",
    "InputError",
    "MappingError",
    "ModelError",
    "OutputError",
    "PipelineError",
    "TopicStrataError",
    "output_error",
]

#: OSError numbers that mean "this place cannot be written": full, quota, read-only,
#: permission, I/O.
WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
)


class TopicStrataError(Exception):
    """Root of every error topicstrata raises on purpose."""


class InputError(TopicStrataError, ValueError):
    """Input data cannot be read or does not fit the expected schema."""


class ConfigError(TopicStrataError, ValueError):
    """A configuration value or parameter is invalid."""


class MappingError(TopicStrataError, ValueError):
    """A mapping file is invalid; the message names the file and line."""


class ModelError(TopicStrataError, RuntimeError):
    """A model is unfitted, corrupt, or does not match its inputs."""


class PipelineError(TopicStrataError, RuntimeError):
    """A pipeline definition, step, cache or run store failed."""


class OutputError(TopicStrataError, OSError):
    """An output (run directory, store, cache) cannot be written; names the path."""


def output_error(what: str, path: object, exc: BaseException, then: str) -> OutputError:
    """The one wording of "cannot write": what, where, why, and what to do next."""
    reason = getattr(exc, "strerror", None) or str(exc)
    return OutputError(
        f"cannot write {what} {path}: {reason}; free space there or make it writable, {then}."
    )


class DependencyError(TopicStrataError, ImportError):
    """An optional component needed for this feature is not installed."""
