"""Registered models: versions, aliases and the approval status that gates serving.

Each version carries the tag ``approval_status`` (``pending`` at
registration, then ``approved`` or ``rejected``). ``load_approved`` is the
only loader serving uses, and it refuses anything not approved.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from topicstrata.ensemble.persist import MANIFEST
from topicstrata.errors import ConfigError, ModelError, TopicStrataError
from topicstrata.registry.runs import RUN_DIR_TAG, log_run
from topicstrata.registry.tracking import (
    DEFAULT_EXPERIMENT,
    ensure_experiment,
    import_mlflow,
    make_client,
    quiet_mlflow,
    resolve_tracking_uri,
)
from topicstrata.run.outputs import locate_model

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.pyfunc import PyFuncModel
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

APPROVAL_TAG = "approval_status"
REASON_TAG = "rejection_reason"
DECIDED_AT_TAG = "approval_decided_at"
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
CHAMPION = "champion"
ARTIFACT_ROOT = "pyfunc"


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered model version as topicstrata sees it."""

    name: str
    version: int
    approval_status: str
    aliases: tuple[str, ...] = ()
    run_id: str | None = None
    created_at: datetime | None = None
    description: str = ""
    source: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """The ``models:/`` URI for ``mlflow.pyfunc.load_model``."""
        return f"models:/{self.name}/{self.version}"

    @property
    def approved(self) -> bool:
        return self.approval_status == APPROVED


@contextmanager
def _mlflow_errors(what: str) -> Iterator[None]:
    """MLflow's exceptions become ``ModelError`` naming the action that failed."""
    from mlflow.exceptions import MlflowException

    try:
        with quiet_mlflow():
            yield
    except TopicStrataError:
        raise
    except MlflowException as exc:
        raise ModelError(f"{what}: {exc.message}") from exc


def _model_dirs(path: Path) -> tuple[Path, Path | None]:
    """(model directory, run directory or None) for a run directory or a model directory."""
    found = locate_model(path)
    if found is None:
        raise ConfigError(
            f"{path}: neither a run directory (with model/{MANIFEST}) nor a model directory "
            f"(with {MANIFEST}); create one with `strata fit DATA -o RUN`."
        )
    return found


def _requirements() -> list[str]:
    # Pinning only ourselves skips MLflow's slow environment inference at log time.
    try:
        return [f"topicstrata=={metadata.version('topicstrata')}"]
    except metadata.PackageNotFoundError:
        return ["topicstrata"]


def _signature() -> Any:
    """Output columns only: an input schema would make MLflow drop the fitted text columns.

    Passing any signature also stops MLflow warning that it could not infer one.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    columns: list[Any] = [
        ColSpec("string", "path"),
        ColSpec("string", "label"),
        ColSpec("double", "confidence"),
    ]
    return ModelSignature(outputs=Schema(columns))


def _to_info(client: MlflowClient, mv: ModelVersion, metrics: bool = True) -> ModelVersionInfo:
    tags = dict(mv.tags or {})
    run_metrics: dict[str, float] = {}
    if metrics and mv.run_id:
        from mlflow.exceptions import MlflowException

        try:
            run_metrics = dict(client.get_run(mv.run_id).data.metrics)
        except MlflowException:
            logger.debug("run %s of %s v%s is gone; no metrics", mv.run_id, mv.name, mv.version)
    created = (
        datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC)
        if mv.creation_timestamp
        else None
    )
    return ModelVersionInfo(
        name=mv.name,
        version=int(mv.version),
        approval_status=tags.get(APPROVAL_TAG, PENDING),
        aliases=tuple(sorted(getattr(mv, "aliases", None) or ())),
        run_id=mv.run_id or None,
        created_at=created,
        description=mv.description or "",
        source=mv.source or "",
        metrics=run_metrics,
        tags=tags,
    )


def register_model(
    path: str | Path,
    name: str,
    *,
    run_id: str | None = None,
    alias: str | None = None,
    description: str | None = None,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
) -> ModelVersionInfo:
    """Register a run's model (or a model directory) as a new pyfunc version, status pending.

    Without ``run_id`` a run is logged first (``log_run`` on the run
    directory, or an empty run for a bare model directory), so the version
    links to its metrics.
    """
    if not name or not name.strip():
        raise ConfigError("a registered model needs a non-empty name, e.g. --name crm-topics.")
    model_dir, run_dir = _model_dirs(Path(path))
    started = time.perf_counter()
    client = make_client(tracking_uri)
    if run_id is None:
        if run_dir is not None:
            run_id = log_run(run_dir, tracking_uri=client.tracking_uri, experiment=experiment)
        else:
            with _mlflow_errors(f"cannot create a run for {model_dir}"):
                run = client.create_run(
                    ensure_experiment(client, experiment),
                    run_name=model_dir.resolve().name,
                    tags={RUN_DIR_TAG: str(model_dir.resolve())},
                )
                client.set_terminated(run.info.run_id)
            run_id = str(run.info.run_id)

    mlflow = import_mlflow()
    from topicstrata.registry.pyfunc import ARTIFACT_KEY, ENTRY_FILE

    artifact_path = f"{ARTIFACT_ROOT}/{name}"
    with _mlflow_errors(f"cannot log the model in {model_dir} to run {run_id}"):
        run_info = client.get_run(run_id).info
        with tempfile.TemporaryDirectory(prefix="strata-pyfunc-") as tmp:
            local = Path(tmp) / "model"
            mlflow.pyfunc.save_model(
                path=str(local),
                python_model=str(ENTRY_FILE),
                artifacts={ARTIFACT_KEY: str(model_dir.resolve())},
                pip_requirements=_requirements(),
                signature=_signature(),
            )
            client.log_artifacts(run_id, str(local), artifact_path)
    source = f"{run_info.artifact_uri.rstrip('/')}/{artifact_path}"
    with _mlflow_errors(f"cannot register model {name!r}"):
        from mlflow.exceptions import MlflowException

        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name)
        mv = client.create_model_version(
            name, source, run_id=run_id, tags={APPROVAL_TAG: PENDING}, description=description
        )
        if alias:
            client.set_registered_model_alias(name, alias, mv.version)
        mv = client.get_model_version(name, mv.version)
    logger.info(
        "registered %s as %s version %s (pending) in %.1fs",
        model_dir,
        name,
        mv.version,
        time.perf_counter() - started,
    )
    return _to_info(client, mv)


def _get_version(client: MlflowClient, name: str, version: int | str) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        with quiet_mlflow():
            return client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise ModelError(
            f"model {name!r} has no version {version}; see `strata registry list`."
        ) from exc


def _set_status(
    name: str, version: int | str, status: str, reason: str | None, tracking_uri: str | None
) -> ModelVersionInfo:
    client = make_client(tracking_uri)
    _get_version(client, name, version)
    with _mlflow_errors(f"cannot mark {name} version {version} {status}"):
        client.set_model_version_tag(name, str(version), APPROVAL_TAG, status)
        client.set_model_version_tag(
            name, str(version), DECIDED_AT_TAG, datetime.now(tz=UTC).isoformat(timespec="seconds")
        )
        if reason:
            client.set_model_version_tag(name, str(version), REASON_TAG, reason)
        elif status == APPROVED and REASON_TAG in (_get_version(client, name, version).tags or {}):
            client.delete_model_version_tag(name, str(version), REASON_TAG)
    logger.info("%s version %s is now %s", name, version, status)
    return _to_info(client, _get_version(client, name, version))


def approve(
    name: str, version: int | str, *, alias: str | None = None, tracking_uri: str | None = None
) -> ModelVersionInfo:
    """Mark a version approved (servable); optionally point ``alias`` (e.g. champion) at it."""
    info = _set_status(name, version, APPROVED, None, tracking_uri)
    if alias:
        set_alias(name, version, alias, tracking_uri=tracking_uri)
        info = get_version(name, version, tracking_uri=tracking_uri)
    return info


def reject(
    name: str, version: int | str, reason: str | None = None, *, tracking_uri: str | None = None
) -> ModelVersionInfo:
    """Mark a version rejected, with an optional reason; ``load_approved`` then refuses it."""
    return _set_status(name, version, REJECTED, reason, tracking_uri)


def set_alias(
    name: str, version: int | str, alias: str, *, tracking_uri: str | None = None
) -> None:
    """Point ``alias`` (``candidate``, ``champion``...) at a version, moving it if set elsewhere."""
    client = make_client(tracking_uri)
    _get_version(client, name, version)
    with _mlflow_errors(f"cannot set alias {alias!r} on {name} version {version}"):
        client.set_registered_model_alias(name, alias, str(version))


def get_version(
    name: str, version: int | str, *, tracking_uri: str | None = None
) -> ModelVersionInfo:
    client = make_client(tracking_uri)
    return _to_info(client, _get_version(client, name, version))


def list_models(
    name: str | None = None, *, tracking_uri: str | None = None
) -> list[ModelVersionInfo]:
    """Every version of every registered model (or of ``name``), by name then version."""
    client = make_client(tracking_uri)
    versions: list[ModelVersion] = []
    with _mlflow_errors("cannot list registered models"):
        names = [name] if name else _registered_names(client)
        for model in names:
            query = "name = '{}'".format(model.replace("'", "''"))
            token = None
            while True:
                page = client.search_model_versions(query, max_results=1000, page_token=token)
                versions.extend(page)
                token = page.token
                if not token:
                    break
        # search_model_versions leaves aliases out on some stores; read each version.
        full = [client.get_model_version(mv.name, mv.version) for mv in versions]
    infos = [_to_info(client, mv) for mv in full]
    return sorted(infos, key=lambda i: (i.name, i.version))


def _registered_names(client: MlflowClient) -> list[str]:
    names: list[str] = []
    token = None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        names.extend(m.name for m in page)
        token = page.token
        if not token:
            return names


def resolve_version(
    name: str, version_or_alias: int | str | None = None, *, tracking_uri: str | None = None
) -> ModelVersionInfo:
    """A version number, an alias, or (None) the ``champion`` alias else the newest approved one."""
    client = make_client(tracking_uri)
    from mlflow.exceptions import MlflowException

    if version_or_alias is None:
        try:
            with quiet_mlflow():
                return _to_info(client, client.get_model_version_by_alias(name, CHAMPION))
        except MlflowException:
            approved = [
                i for i in list_models(name, tracking_uri=client.tracking_uri) if i.approved
            ]
            if not approved:
                raise ModelError(
                    f"model {name!r} has no approved version and no {CHAMPION!r} alias; "
                    f"approve one with `strata registry approve {name} VERSION`."
                ) from None
            return approved[-1]
    if isinstance(version_or_alias, int) or str(version_or_alias).isdigit():
        return _to_info(client, _get_version(client, name, version_or_alias))
    try:
        with quiet_mlflow():
            return _to_info(client, client.get_model_version_by_alias(name, str(version_or_alias)))
    except MlflowException as exc:
        raise ModelError(
            f"model {name!r} has no version or alias {version_or_alias!r}; "
            "see `strata registry list`."
        ) from exc


def load_approved(
    name: str, version_or_alias: int | str | None = None, *, tracking_uri: str | None = None
) -> PyFuncModel:
    """Load an approved version as a pyfunc model; refuse pending or rejected ones.

    ``model.unwrap_python_model().predictor`` is the underlying ``TopicPredictor``.
    """
    uri = resolve_tracking_uri(tracking_uri)
    info = resolve_version(name, version_or_alias, tracking_uri=uri)
    if not info.approved:
        reason = info.tags.get(REASON_TAG)
        why = f" ({reason})" if reason else ""
        raise ModelError(
            f"model {name!r} version {info.version} is {info.approval_status}{why}; only approved "
            f"versions are served. Review it, then approve it with "
            f"`strata registry approve {name} {info.version}`."
        )
    mlflow = import_mlflow()
    with _mlflow_errors(f"cannot load {name} version {info.version} from {info.source}"):
        location = info.source
        if urlparse(location).scheme not in ("", "file"):
            location = mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=uri)
        model: PyFuncModel = mlflow.pyfunc.load_model(location)
    logger.info("loaded %s version %s (approved)", name, info.version)
    return model


def predictor_of(model: PyFuncModel) -> Any:
    """The ``TopicPredictor`` inside a pyfunc model loaded by ``load_approved``."""
    return model.unwrap_python_model().predictor
