"""What ``strata serve SOURCE`` serves: a run directory, a model directory or a
registered version (``crm-topics``, ``crm-topics@champion``, ``crm-topics/3``).

``resolve_source`` finds the model and checks the approval gate without loading
anything; ``load_source`` loads it into a :class:`ServedModel`. A registered version
must be approved (loaded through ``registry.load_approved``) unless the caller
allows unapproved versions, which is logged as a warning on every load.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlparse

import pandas as pd

from topicstrata._version import __version__
from topicstrata.ensemble.persist import MANIFEST
from topicstrata.ensemble.predictor import TopicPredictor
from topicstrata.errors import ConfigError, ModelError
from topicstrata.io.schema import ID, TEXT
from topicstrata.registry import (
    ModelVersionInfo,
    load_approved,
    predictor_of,
    resolve_version,
)
from topicstrata.registry.models import REASON_TAG
from topicstrata.registry.tracking import import_mlflow, quiet_mlflow, resolve_tracking_uri
from topicstrata.run.outputs import VIEWS, locate_model

__all__ = ["ModelSource", "ServedModel", "load_source", "parse_source", "resolve_source"]

logger = logging.getLogger(__name__)

_REGISTRY_REF: Final = re.compile(
    r"^(?:models:/)?(?P<name>[A-Za-z0-9][\w.-]*?)(?:@(?P<alias>[\w.-]+)|/(?P<version>\d+))?$"
)


@dataclass(frozen=True)
class ModelSource:
    """A parsed SOURCE: a local path, or a registered name with an alias or a version."""

    text: str
    path: Path | None = None
    name: str | None = None
    alias: str | None = None
    version: int | None = None

    @property
    def is_registry(self) -> bool:
        return self.name is not None

    @property
    def reference(self) -> int | str | None:
        """What ``registry.resolve_version`` takes: a version, an alias, or None."""
        return self.version if self.version is not None else self.alias


def parse_source(text: str | Path) -> ModelSource:
    """An existing path wins over a registry reference of the same spelling."""
    raw = str(text).strip()
    if not raw:
        raise ConfigError("SOURCE is empty; pass a run directory or a registered model name.")
    path = Path(raw).expanduser()
    if path.exists():
        if locate_model(path) is None:
            raise ConfigError(
                f"{path}: neither a run directory (with model/{MANIFEST}) nor a model "
                f"directory (with {MANIFEST}); create one with `strata fit DATA -o RUN`."
            )
        return ModelSource(text=raw, path=path)
    match = _REGISTRY_REF.match(raw)
    if match is None:
        raise ConfigError(
            f"{raw!r} is no directory here and not a registry reference; pass a run directory, "
            "or NAME, NAME@ALIAS or NAME/VERSION (see `strata registry list`)."
        )
    version = match["version"]
    return ModelSource(
        text=raw,
        name=match["name"],
        alias=match["alias"],
        version=int(version) if version else None,
    )


@dataclass(frozen=True)
class ResolvedSource:
    """Where the model of a source is now: a model directory, or a registered version."""

    source: ModelSource
    model_dir: Path | None = None
    run_dir: Path | None = None
    version: ModelVersionInfo | None = None


def resolve_source(
    source: ModelSource, *, allow_unapproved: bool = False, tracking_uri: str | None = None
) -> ResolvedSource:
    """Find what ``source`` points at now (an alias may have moved); refuse an unapproved
    registered version unless ``allow_unapproved``."""
    if source.path is not None:
        found = locate_model(source.path)
        if found is None:
            raise ModelError(f"{source.path} no longer holds a saved model ({MANIFEST}).")
        return ResolvedSource(source, model_dir=found[0], run_dir=found[1])
    assert source.name is not None
    info = resolve_version(source.name, source.reference, tracking_uri=tracking_uri)
    if not info.approved:
        if not allow_unapproved:
            reason = info.tags.get(REASON_TAG)
            why = f" ({reason})" if reason else ""
            raise ModelError(
                f"model {info.name!r} version {info.version} is {info.approval_status}{why}; "
                "only approved versions are served. Review it, then approve it with "
                f"`strata registry approve {info.name} {info.version}`. To try it anyway: "
                f"`strata serve {info.name}/{info.version} --allow-unapproved` "
                "(never in production)."
            )
        logger.warning(
            "SERVING AN UNAPPROVED MODEL: %s version %s is %s; --allow-unapproved is for "
            "trying a candidate, never for production. Approve it with "
            "`strata registry approve %s %s`.",
            source.name,
            info.version,
            info.approval_status,
            source.name,
            info.version,
        )
    return ResolvedSource(source, version=info)


@dataclass(frozen=True)
class ServedModel:
    """A loaded predictor and what ``GET /v1/model`` says about it."""

    predictor: TopicPredictor
    source: ModelSource
    name: str
    version: int | None
    approval_status: str | None
    aliases: tuple[str, ...]
    fitted_at: datetime | None
    registered_at: datetime | None
    model_topicstrata_version: str | None
    loaded_at: datetime
    #: Representative record texts by id, when the run directory kept them.
    texts: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def text_fields(self) -> list[str]:
        return list(self.predictor.text_cols or [TEXT])

    @property
    def mapping_version(self) -> int:
        return int(self.predictor.ensemble.mapping_.version)

    def describe(self) -> dict[str, Any]:
        """The model card for ``GET /v1/model``."""
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.source.alias,
            "aliases": list(self.aliases),
            "approval_status": self.approval_status,
            "source": self.source.text,
            "mapping_version": self.mapping_version,
            "n_layers": self.predictor.ensemble.n_layers_,
            "text_fields": self.text_fields,
            "embedder": self.predictor.embedder.name,
            "embedder_options": self.predictor.embedder_options,
            "fitted_at": self.fitted_at,
            "registered_at": self.registered_at,
            "topicstrata_version": self.model_topicstrata_version,
            "server_version": __version__,
            "loaded_at": self.loaded_at,
        }


def load_source(
    source: ModelSource, *, allow_unapproved: bool = False, tracking_uri: str | None = None
) -> ServedModel:
    """Resolve and load ``source`` (again: a reload calls this to follow a moved alias)."""
    resolved = resolve_source(source, allow_unapproved=allow_unapproved, tracking_uri=tracking_uri)
    now = datetime.now(tz=UTC)
    if resolved.version is None:
        assert resolved.model_dir is not None
        predictor = TopicPredictor.load(resolved.model_dir)
        name = (resolved.run_dir or resolved.model_dir).resolve().name
        logger.info("loaded %s from %s", name, resolved.model_dir)
        return ServedModel(
            predictor=predictor,
            source=source,
            name=name,
            version=None,
            approval_status=None,
            aliases=(),
            fitted_at=_saved_at(resolved.model_dir),
            registered_at=None,
            model_topicstrata_version=_manifest_version(resolved.model_dir),
            loaded_at=now,
            texts=_representative_texts(resolved.run_dir, predictor),
        )
    info = resolved.version
    assert source.name is not None
    if info.approved:
        pyfunc = load_approved(source.name, info.version, tracking_uri=tracking_uri)
    else:
        pyfunc = _load_unapproved(info, tracking_uri)
    predictor = predictor_of(pyfunc)
    model_dir = _local_model_dir(info.source)
    return ServedModel(
        predictor=predictor,
        source=source,
        name=info.name,
        version=info.version,
        approval_status=info.approval_status,
        aliases=info.aliases,
        fitted_at=_saved_at(model_dir) if model_dir else None,
        registered_at=info.created_at,
        model_topicstrata_version=_manifest_version(model_dir) if model_dir else None,
        loaded_at=now,
    )


def _load_unapproved(info: ModelVersionInfo, tracking_uri: str | None) -> Any:
    """``load_approved`` without the gate, for ``--allow-unapproved`` only."""
    mlflow = import_mlflow()
    location = info.source
    try:
        with quiet_mlflow():
            if urlparse(location).scheme not in ("", "file"):
                location = mlflow.artifacts.download_artifacts(
                    artifact_uri=location, tracking_uri=resolve_tracking_uri(tracking_uri)
                )
            return mlflow.pyfunc.load_model(location)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"cannot load {info.name} version {info.version} from {info.source}: {exc}"
        ) from exc


def _local_model_dir(source: str) -> Path | None:
    """The saved model inside a registered version's local artefacts, if local."""
    parsed = urlparse(source)
    if parsed.scheme not in ("", "file"):
        return None
    root = Path(unquote(parsed.path)) if parsed.scheme else Path(source)
    found = sorted(root.rglob(MANIFEST)) if root.is_dir() else []
    return found[0].parent if found else None


def _saved_at(model_dir: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp((model_dir / MANIFEST).stat().st_mtime, tz=UTC)
    except OSError:
        return None


def _manifest_version(model_dir: Path) -> str | None:
    try:
        manifest = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = manifest.get("topicstrata")
    return str(version) if version else None


def _representative_texts(run_dir: Path | None, predictor: TopicPredictor) -> dict[str, str]:
    """Texts of the topics' representative records, from the run directory's views file."""
    if run_dir is None or not (run_dir / VIEWS).is_file():
        return {}
    wanted = {
        rid for node in predictor.ensemble.tree_.nodes.values() for rid in node.representative_ids
    }
    try:
        views = pd.read_parquet(run_dir / VIEWS, columns=[ID, "embed_text"])
    except (OSError, ValueError, KeyError) as exc:
        logger.info("no representative texts from %s: %s", run_dir / VIEWS, exc)
        return {}
    views = views[views[ID].astype(str).isin(wanted)]
    return dict(zip(views[ID].astype(str), views["embed_text"].astype(str), strict=True))
