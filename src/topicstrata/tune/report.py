"""Write a study's outputs to a folder and log them to MLflow.

Files: ``best.yaml`` (a full config for ``strata fit --config``), ``trials.csv``,
``embedders.json`` (ranking and winner), ``metrics.json`` (best loss and its
terms), and the optimization history and parameter importances as
self-contained HTML (Plotly, no CDN) and PNG (matplotlib: Plotly's PNG export
needs kaleido and a Chrome binary, which offline installs rarely have).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from topicstrata.tune.study import TuneResult

logger = logging.getLogger(__name__)

__all__ = ["log_tuning", "write_outputs"]


def write_outputs(result: TuneResult, out_dir: str | Path) -> dict[str, Path]:
    """Write every output file of ``result`` under ``out_dir``; return them by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {"best": result.best_config.to_yaml(out / "best.yaml")}
    frame = result.study.trials_dataframe()
    frame.to_csv(out / "trials.csv", index=False)
    files["trials"] = out / "trials.csv"
    files["embedders"] = _write_json(
        out / "embedders.json",
        {"winner": result.winner, "ranking": result.ranking, "metric": "cv loss (lower is better)"},
    )
    files["metrics"] = _write_json(out / "metrics.json", summary_metrics(result))
    files["study"] = _write_json(
        out / "study.json",
        {
            "study_name": result.study.study_name,
            "storage": result.settings.storage,
            "settings": result.settings.model_dump(mode="json", exclude={"space"}),
            "space": result.space.model_dump(mode="json", exclude_none=True),
            "best_params": result.study.best_trial.params,
        },
    )
    files.update(write_plots(result.study, out))
    return files


def summary_metrics(result: TuneResult) -> dict[str, Any]:
    states = [t.state for t in result.study.trials]
    return {
        "best_loss": result.best_loss,
        "best_trial": result.study.best_trial.number,
        **{f"best.{k}": v for k, v in result.best_scores.items() if k != "loss"},
        "n_trials": len(states),
        "n_complete": states.count(optuna.trial.TrialState.COMPLETE),
        "n_pruned": states.count(optuna.trial.TrialState.PRUNED),
        "n_failed": states.count(optuna.trial.TrialState.FAIL),
        "new_trials": result.n_new_trials,
        "wall_s": round(result.wall_s, 2),
    }


def write_plots(study: optuna.Study, out: Path) -> dict[str, Path]:
    """History and importances as HTML and PNG; importances need 2+ completed trials."""
    files: dict[str, Path] = {}
    completed = [
        t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and t.value is not None
    ]
    history = optuna.visualization.plot_optimization_history(study)
    history.write_html(out / "history.html", include_plotlyjs=True)
    files["history_html"] = out / "history.html"
    files["history_png"] = _history_png(completed, out / "history.png")
    importances: dict[str, float] = {}
    if len(completed) >= 2:
        try:
            importances = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError) as exc:
            logger.info("parameter importances unavailable: %s", exc)
    if importances:
        figure = optuna.visualization.plot_param_importances(study)
        figure.write_html(out / "importance.html", include_plotlyjs=True)
        files["importance_html"] = out / "importance.html"
        files["importance_png"] = _importance_png(importances, out / "importance.png")
    return files


def _history_png(trials: list[optuna.trial.FrozenTrial], path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    numbers = [t.number for t in trials]
    values = [float(t.value) for t in trials if t.value is not None]
    if values:
        ax.scatter(numbers, values, s=14, label="trial loss")
        ax.plot(numbers, np.minimum.accumulate(values), color="C3", label="best so far")
        ax.legend()
    ax.set_xlabel("trial")
    ax.set_ylabel("loss (lower is better)")
    ax.set_title("optimization history")
    figure.tight_layout()
    figure.savefig(path)
    return path


def _importance_png(importances: dict[str, float], path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(importances)[::-1]
    figure = Figure(figsize=(7, 0.6 + 0.3 * len(names)), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.barh(names, [importances[n] for n in names])
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title("parameter importances")
    figure.tight_layout()
    figure.savefig(path)
    return path


def log_tuning(
    result: TuneResult,
    out_dir: str | Path,
    files: dict[str, Path],
    tracking_uri: str | None = None,
) -> str:
    """Log the study to MLflow: best params and settings, summary metrics, every output file."""
    from topicstrata.registry import runs
    from topicstrata.registry.tracking import make_client, quiet_mlflow

    params = {
        "tune": result.settings.model_dump(mode="json", exclude={"space"}),
        "best": result.best_config.model_dump(mode="json"),
        "embedder_winner": result.winner,
        "study_name": result.study.study_name,
    }
    metrics = {
        k: float(v)
        for k, v in summary_metrics(result).items()
        if isinstance(v, int | float) and math.isfinite(float(v))
    }
    run_id = runs.log_run(
        out_dir,
        params,
        metrics,
        tracking_uri=tracking_uri,
        run_name=f"tune {result.study.study_name}",
        tags={"topicstrata.kind": "tune"},
    )
    client = make_client(tracking_uri)
    with quiet_mlflow():
        for path in files.values():
            if path.name != "metrics.json":  # log_run already attached it
                client.log_artifact(run_id, str(path))
    return run_id


def _write_json(path: Path, data: Any) -> Path:
    text = json.dumps(_finite(data), indent=2, default=_json_default, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _finite(value: Any) -> Any:
    """Non-finite floats become null (JSON has no infinity)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
