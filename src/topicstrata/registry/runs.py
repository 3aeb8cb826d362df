"""Log a run directory to MLflow: flattened parameters, numeric metrics, small artefacts."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from topicstrata.errors import ConfigError, ModelError
from topicstrata.registry.tracking import (
    DEFAULT_EXPERIMENT,
    ensure_experiment,
    make_client,
    quiet_mlflow,
)

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
# Small, human-readable files; the model is logged by register_model, parquet stays local.
ARTIFACT_PATTERNS = (
    "mapping.v*.yaml",
    "report.html",
    METRICS_FILE,
    "hierarchy.json",
    "row_report.json",
)
MAX_PARAM_CHARS = 6000  # MLflow's limit on one parameter value
RUN_DIR_TAG = "topicstrata.run_dir"
SOURCE_TAG = "topicstrata.logged_by"


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings become dotted keys; values become strings MLflow accepts."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, f"{name}."))
            continue
        text = (
            json.dumps(value, default=str)
            if isinstance(value, list | tuple | Mapping)
            else str(value)
        )
        flat[name] = text[:MAX_PARAM_CHARS]
    return flat


def metrics_from_file(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numbers in a run's ``metrics.json``, named ``l1_nmi``, ``npmi``, ``timings.fit``...

    Per-level entries become ``l<level>_<name>`` (``levels``) and
    ``l<level>_keywords_<name>`` (``keyword_levels``); nested mappings are dotted;
    strings, None and non-finite values are dropped.
    """
    out: dict[str, float] = {}
    for list_key, infix in (("levels", ""), ("keyword_levels", "keywords_")):
        for entry in metrics.get(list_key) or []:
            level = entry.get("level")
            for key, value in entry.items():
                if key != "level" and _is_number(value):
                    out[f"l{level}_{infix}{key}"] = float(value)
    for key, value in metrics.items():
        if key in ("levels", "keyword_levels"):
            continue
        if isinstance(value, Mapping):
            nested = {f"{key}.{k}": v for k, v in value.items()}
            out.update(metrics_from_file(nested))
        elif _is_number(value):
            out[key] = float(value)
    return out


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"{path}: cannot read run metrics ({exc}); re-run `strata evaluate`."
        ) from exc
    return data if isinstance(data, dict) else {}


def log_run(
    run_dir: str | Path,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    *,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Log one run directory as an MLflow run and return the MLflow run id.

    ``metrics`` are added to (and override) those read from ``metrics.json``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(
            f"{run_dir}: not a run directory; create one with `strata fit DATA -o RUN`."
        )
    numbers = metrics_from_file(read_metrics(run_dir))
    for key, value in (metrics or {}).items():
        if not _is_number(value):
            raise ConfigError(f"metric {key!r}={value!r} is not a finite number.")
        numbers[key] = float(value)
    flat = flatten_params(params or {})
    started = time.perf_counter()
    client = make_client(tracking_uri)
    experiment_id = ensure_experiment(client, experiment)
    from mlflow.entities import Metric, Param, RunTag

    with quiet_mlflow():
        run = client.create_run(
            experiment_id,
            run_name=run_name or run_dir.resolve().name,
            tags={RUN_DIR_TAG: str(run_dir.resolve()), **dict(tags or {})},
        )
        run_id = str(run.info.run_id)
        now = int(time.time() * 1000)
        try:
            metric_list = [Metric(k, v, now, 0) for k, v in numbers.items()]
            param_list = [Param(k, v) for k, v in flat.items()]
            # log_batch takes at most 1000 metrics and 100 params per call.
            for i in range(0, max(len(metric_list), len(param_list), 1), 100):
                client.log_batch(
                    run_id,
                    metrics=metric_list[i : i + 100],
                    params=param_list[i : i + 100],
                    tags=[RunTag(SOURCE_TAG, "topicstrata")] if i == 0 else [],
                )
            for pattern in ARTIFACT_PATTERNS:
                for path in sorted(run_dir.glob(pattern)):
                    client.log_artifact(run_id, str(path))
        except Exception:
            client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id, status="FINISHED")
    logger.info(
        "logged %s as mlflow run %s (%d params, %d metrics) in %.1fs",
        run_dir,
        run_id,
        len(flat),
        len(numbers),
        time.perf_counter() - started,
    )
    return run_id
