"""Where MLflow keeps runs and models, and how topicstrata talks to it quietly.

The default is a SQLite database under ``<root>/.strata/`` with artefacts
beside it, so nothing leaves the machine. Any tracking URI (an MLflow server,
another database) can be given as a parameter or through
``TOPICSTRATA_TRACKING_URI`` (then ``MLFLOW_TRACKING_URI``).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from topicstrata.errors import ConfigError, DependencyError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

ENV_TRACKING_URI = "TOPICSTRATA_TRACKING_URI"
STRATA_DIR = ".strata"
DB_FILE = "mlflow.db"
ARTIFACT_DIR = "mlruns"
DEFAULT_EXPERIMENT = "topicstrata"

# Set before mlflow is first imported: no telemetry, no progress bars, no INFO chatter.
_MLFLOW_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}


_CHATTY_LOGGERS = ("mlflow.store.db.utils", "alembic.runtime.migration")


def _quiet_env() -> None:
    for key, value in _MLFLOW_ENV.items():
        os.environ.setdefault(key, value)


def default_tracking_uri(root: str | Path | None = None) -> str:
    """``sqlite:///<root>/.strata/mlflow.db`` (root defaults to the working directory)."""
    base = Path(root) if root is not None else Path.cwd()
    return f"sqlite:///{(base / STRATA_DIR / DB_FILE).resolve()}"


def resolve_tracking_uri(tracking_uri: str | None = None, root: str | Path | None = None) -> str:
    """The argument, else ``TOPICSTRATA_TRACKING_URI``, ``MLFLOW_TRACKING_URI``, else SQLite."""
    for value in (
        tracking_uri,
        os.environ.get(ENV_TRACKING_URI),
        os.environ.get("MLFLOW_TRACKING_URI"),
    ):
        if value and value.strip():
            return value.strip()
    return default_tracking_uri(root)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``sqlite:////abs`` or ``sqlite:///rel``)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = unquote(uri[len(prefix) :].split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    return Path(path).resolve()


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Silence the warnings MLflow and its dependencies raise on routine calls.

    Only warnings issued from inside mlflow, its SQL layer and pydantic
    models are ignored, so the test suite's ``filterwarnings = error`` still
    catches ours.
    """
    # Schema creation logs at INFO even when mlflow was imported before MLFLOW_LOGGING_LEVEL
    # was set; raise just those loggers for the duration of the call.
    muted = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [log.level for log in muted]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(mlflow|alembic|sqlalchemy|pydantic)(\..*)?")
        for log in muted:
            if log.getEffectiveLevel() < logging.WARNING:
                log.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for log, level in zip(muted, levels, strict=True):
                log.setLevel(level)


def import_mlflow():  # type: ignore[no-untyped-def]
    """Import mlflow with the quiet settings, or say how to install it."""
    _quiet_env()
    try:
        with quiet_mlflow():
            import mlflow
            import mlflow.pyfunc  # lazily loaded by mlflow; warns on first import
    except ImportError as exc:  # pragma: no cover - mlflow is a dependency
        raise DependencyError(
            "the model registry needs MLflow: pip install 'mlflow>=2.14'"
        ) from exc
    return mlflow


def make_client(tracking_uri: str | None = None, root: str | Path | None = None) -> MlflowClient:
    """An ``MlflowClient`` on the resolved URI; creates ``.strata/`` for a SQLite file."""
    import_mlflow()
    from mlflow.tracking import MlflowClient

    uri = resolve_tracking_uri(tracking_uri, root)
    db = sqlite_path(uri)
    if db is not None:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the tracking directory {db.parent}: {exc}") from exc
    logger.debug("mlflow tracking uri %s", uri)
    with quiet_mlflow():
        return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(client: MlflowClient, name: str = DEFAULT_EXPERIMENT) -> str:
    """The id of experiment ``name``, created on first use.

    With a SQLite store, artefacts go to ``mlruns/`` next to the database
    rather than MLflow's default of ``./mlruns`` in whatever directory the
    process happens to run from.
    """
    with quiet_mlflow():
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        db = sqlite_path(client.tracking_uri)
        location = (db.parent / ARTIFACT_DIR / name).resolve().as_uri() if db else None
        return str(client.create_experiment(name, artifact_location=location))
