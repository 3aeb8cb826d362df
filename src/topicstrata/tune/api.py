"""``run_tune``: records file in, tuned config and study report out (behind ``strata tune``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.config import StrataConfig
from topicstrata.errors import ConfigError
from topicstrata.fanout import MapFn
from topicstrata.tune.data import load_tune_data
from topicstrata.tune.report import log_tuning, write_outputs
from topicstrata.tune.study import TuneResult, TuneSettings, tune

logger = logging.getLogger(__name__)

__all__ = ["TuneRun", "load_tune_config", "run_tune"]


@dataclass
class TuneRun:
    """What ``run_tune`` produced."""

    result: TuneResult
    files: dict[str, Path]
    mlflow_run_id: str | None


def load_tune_config(path: str | Path | None) -> tuple[StrataConfig, TuneSettings]:
    """A config file's fit sections and its optional ``tune:`` section.

    ``strata fit`` rejects unknown sections, so the ``tune:`` section is split
    off here and ``best.yaml`` never carries it.
    """
    if path is None:
        return StrataConfig(), TuneSettings()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; check the --config path.")
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping (ingest, ..., tune).")
    tune_section = data.pop("tune", None) or {}
    base = StrataConfig.from_dict(data, source=str(path))
    return base, TuneSettings.from_dict(tune_section, source=f"{path}: tune")


def run_tune(
    data: str | Path,
    out_dir: str | Path,
    base: StrataConfig | None = None,
    settings: TuneSettings | None = None,
    *,
    label_cols: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
    tracking_uri: str | None = None,
    log_mlflow: bool = True,
    progress: ProgressCallback = null_progress,
    map_workers: MapFn | None = None,
) -> TuneRun:
    """Sample and preprocess ``data``, run the study, write ``out_dir``, log to MLflow.

    ``map_workers`` runs parallel trial workers (default: loky processes here; a
    ``RayFanOut`` runs them as Ray tasks)."""
    base = base or StrataConfig()
    settings = settings or TuneSettings()
    tune_data = load_tune_data(
        data,
        base,
        label_cols=list(label_cols) if label_cols else None,
        sample=settings.sample,
        seed=settings.seed,
        cache_dir=cache_dir,
        progress=progress,
    )
    result = tune(tune_data, base, settings, progress=progress, map_workers=map_workers)
    files = write_outputs(result, out_dir)
    run_id = log_tuning(result, out_dir, files, tracking_uri) if log_mlflow else None
    logger.info("best loss %.4f (trial %d)", result.best_loss, result.study.best_trial.number)
    return TuneRun(result, files, run_id)
