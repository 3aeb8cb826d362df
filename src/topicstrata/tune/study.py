"""``tune``: an Optuna study over the search space, scored by cross-validated loss.

The study lives in an Optuna storage (SQLite under ``.strata/`` by default) and
is opened with ``load_if_exists=True``, so rerunning the same command resumes
it: trial numbers continue and the sampler sees every earlier trial. ``trials``
is the number of *new* trials per call, as in ``Study.optimize``.

With ``n_jobs > 1`` trials run in worker processes, each one an Optuna worker on
the shared storage (Optuna's own way to distribute a study): it opens the study,
runs its share of the trials, and sees the others' results through the storage.
The processes come from a ``MapFn`` (``topicstrata.fanout``): joblib's loky
pool by default, the pipeline executor's fan-out (``StepContext.map``) inside
the Tuning step.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.config import StrataConfig
from topicstrata.errors import ConfigError, ModelError, TopicStrataError
from topicstrata.fanout import FanOut, LocalFanOut, MapFn, available_cpus
from topicstrata.tune.cv import CVResult, Folds, cross_validate, make_folds
from topicstrata.tune.data import TuneData
from topicstrata.tune.loss import LossWeights
from topicstrata.tune.space import (
    SearchSpace,
    base_params,
    default_space,
    label_params,
    suggest_config,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_STORAGE",
    "TuneResult",
    "TuneSettings",
    "make_sampler",
    "open_study",
    "split_trials",
    "trial_worker",
    "tune",
]

DEFAULT_STORAGE = "sqlite:///.strata/optuna.db"
RANKING_ATTR = "embedding_ranking"
WINNER_ATTR = "embedding_winner"


class TuneSettings(BaseModel):
    """How to search; the ``tune:`` section of a config file (CLI flags override it)."""

    model_config = ConfigDict(extra="forbid")

    trials: int = Field(30, ge=1)
    timeout: float | None = Field(None, gt=0)
    sampler: Literal["tpe", "gp", "random"] = "tpe"
    folds: int = Field(3, ge=2)
    sample: int | None = Field(10_000, ge=20)
    seed: int = 0
    storage: str = DEFAULT_STORAGE
    study_name: str | None = None
    #: Trials at once, each worker in its own process (see the module docstring).
    #: None: one per CPU core with a file or server storage (a trial's UMAP layout runs
    #: on one core), 1 with an in-memory one.
    n_jobs: int | None = Field(None, ge=1)
    probe_share: float = Field(0.1, ge=0, lt=0.5)
    pruning: bool = True
    #: Enqueue the base config as the first trial of a new study (``base_params``).
    enqueue_base: bool = True
    #: With labels, also enqueue a point read off the label hierarchy (``label_params``).
    enqueue_labels: bool = True
    #: Random trials before TPE models the results (None: a third of ``trials``, 3 to 10).
    startup_trials: int | None = Field(None, ge=1)
    weights: LossWeights = Field(default_factory=LossWeights)
    space: SearchSpace | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str = "tune") -> TuneSettings:
        try:
            return cls.model_validate(data or {})
        except (ValidationError, ConfigError) as exc:
            raise ConfigError(f"{source}: invalid tune settings: {exc}") from None


@dataclass
class TuneResult:
    """The outcome of a study: best config and loss, embedding ranking, the study itself."""

    study: optuna.Study
    best_config: StrataConfig
    best_loss: float
    best_scores: dict[str, float]
    ranking: list[dict[str, Any]]
    winner: str
    space: SearchSpace
    settings: TuneSettings
    n_new_trials: int
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        return len(self.study.trials)


def make_sampler(kind: str, seed: int, startup: int = 10) -> optuna.samplers.BaseSampler:
    """TPE (default), Gaussian-process or random sampler, seeded.

    ``startup`` random trials come before TPE and GP model the results. Optuna's
    default of 10 would leave a 10-trial study entirely random.

    TPE is multivariate (one joint density over the parameters instead of one per
    parameter: k, reducer and split mode interact) and, because the space is
    conditional (``n_neighbors`` exists only for UMAP layers), grouped by the
    parameter sets that occur together. ``constant_liar`` keeps parallel workers
    from sampling next to a trial another worker is still running.
    """
    if kind == "tpe":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=startup,
                multivariate=True,
                group=True,
                constant_liar=True,
            )
    if kind == "gp":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ConfigError(f"unknown sampler {kind!r}; use tpe, gp or random.")


def open_study(settings: TuneSettings, study_name: str, worker: int = 0) -> optuna.Study:
    """Create or resume the study; the sampler's seed moves on with the trial count.

    Reseeding with ``seed + n_existing`` keeps a resumed study reproducible
    without replaying the random start-up draws of the first session; parallel
    ``worker``s (1, 2, ...) get seeds of their own, or they would draw alike.
    """
    url = settings.storage
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Heartbeats mark trials of a killed process as failed; Optuna flags them experimental.
        warnings.filterwarnings(
            "ignore", category=optuna.exceptions.ExperimentalWarning, message=".*heartbeat.*"
        )
        warnings.filterwarnings(
            "ignore", category=optuna.exceptions.ExperimentalWarning, message=".*grace_period.*"
        )
        storage = optuna.storages.RDBStorage(
            url,
            engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None,
            heartbeat_interval=60,
            grace_period=180,
        )
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
        if settings.pruning
        else optuna.pruners.NopPruner()
    )
    startup = settings.startup_trials or min(10, max(3, settings.trials // 3))
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="minimize",
        load_if_exists=True,
        sampler=make_sampler(settings.sampler, settings.seed, startup),
        pruner=pruner,
    )
    existing = len(study.trials)
    if existing or worker:
        if existing:
            logger.info("resuming study %s with %d trials", study_name, existing)
        seed = settings.seed + existing + 1_000_003 * worker
        study.sampler = make_sampler(settings.sampler, seed, startup)
    return study


def default_study_name(data: TuneData, base: StrataConfig, settings: TuneSettings) -> str:
    """``tune-<hash>`` of the records, base config, space, weights and CV setup.

    The same command on the same data finds its study again; a change that would
    make old trials incomparable (another space, weights, folds) starts a new one.
    """
    digest = hashlib.sha256()
    for i in data.ids:
        digest.update(i.encode() + b"\0")
    key = {
        "base": base.model_dump(mode="json"),
        "settings": settings.model_dump(
            mode="json",
            exclude={"trials", "timeout", "n_jobs", "storage", "study_name", "startup_trials"},
        ),
        "labels": sorted(data.labels),
    }
    digest.update(json.dumps(key, sort_keys=True, default=str).encode())
    return f"tune-{digest.hexdigest()[:12]}"


def tune(
    data: TuneData,
    base: StrataConfig | None = None,
    settings: TuneSettings | None = None,
    progress: ProgressCallback = null_progress,
    *,
    map_workers: MapFn | None = None,
) -> TuneResult:
    """Search the space for the config with the lowest cross-validated loss.

    ``map_workers`` runs the parallel workers when ``settings.n_jobs > 1``
    (default: a ``LocalFanOut``, one loky process per worker).
    """
    base = base or StrataConfig()
    settings = settings or TuneSettings()
    if settings.n_jobs is None:
        fanout = map_workers if isinstance(map_workers, FanOut) else None
        settings = settings.model_copy(update={"n_jobs": default_jobs(settings, fanout)})
    if (settings.n_jobs or 1) > 1 and _in_memory(settings.storage):
        raise ConfigError(
            f"n_jobs={settings.n_jobs} runs trials in worker processes, which cannot "
            f"share the in-memory storage {settings.storage!r}; give a file or server storage "
            "(e.g. sqlite:///.strata/optuna.db) or set n_jobs to 1."
        )
    space = settings.space or default_space(base)
    embedders = list(dict.fromkeys(space.embedders)) or [base.embed.backend]
    started = time.perf_counter()
    folds = make_folds(len(data), settings.folds, settings.seed, settings.probe_share)
    name = settings.study_name or default_study_name(data, base, settings)
    study = open_study(settings, name)
    study.set_user_attr("labels", sorted(data.labels))
    study.set_user_attr("n_records", len(data))

    ranking = _rank_embedders(study, data, base, embedders, folds, settings, progress)
    finite = (r["backend"] for r in ranking if math.isfinite(r["loss"]))
    winner = embedders[0] if len(embedders) == 1 else next(finite, None)
    if winner is None:
        raise ModelError(
            "no embedding backend could be scored: "
            + "; ".join(f"{r['backend']}: {r.get('error', 'failed')}" for r in ranking)
        )
    fixed = winner if space.embedder_selection == "rank" or len(embedders) == 1 else None
    if fixed is not None:
        space = space.model_copy(update={"embedder_selection": "rank"})

    if not study.trials:
        if settings.enqueue_base:
            params = base_params(space, base)
            study.enqueue_trial(params, user_attrs={"source": "base config"})
            logger.info("enqueued the base config as trial 0 (%d parameters)", len(params))
        informed = label_params(space, base, data.labels) if settings.enqueue_labels else None
        if informed is not None:
            study.enqueue_trial(informed, user_attrs={"source": "label hierarchy"})
            logger.info("enqueued a start read off the label hierarchy: %s", informed)

    search = _Search(data, base, settings, space, fixed, name, folds)
    if (settings.n_jobs or 1) > 1:
        # Enqueued trials run here first: two workers on SQLite can pop the same
        # waiting trial and both run it; the second then fails to report it (Optuna
        # issues 4002 and 4621: SQLite has no SELECT ... FOR UPDATE).
        waiting = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.WAITING])
        done = _run_trials(search, study, min(len(waiting), settings.trials), progress)
        rest = settings.trials - done
        if rest > 0:
            search = _Search(
                data, base, settings.model_copy(update={"trials": rest}), space, fixed, name, folds
            )
            done += _run_workers(search, map_workers, progress)
    else:
        done = _run_trials(search, study, settings.trials, progress)
    completed = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    if not completed:
        raise ModelError(
            f"study {name}: no trial completed (see the failed trials in {settings.storage}); "
            "widen the search space or give more records."
        )
    best = study.best_trial
    best_embedder = str(best.user_attrs.get("embedder", fixed or base.embed.backend))
    best_config = suggest_config(
        optuna.trial.FixedTrial(best.params), space, base, embedder=best_embedder
    )
    if len(embedders) > 1 and space.embedder_selection == "search":
        search_ranking = _search_ranking(completed, embedders)
        study.set_user_attr("embedding_ranking_search", _jsonable(search_ranking))
        ranking = search_ranking
        winner = best_embedder
    study.set_user_attr(WINNER_ATTR, winner)
    scores = {k: float(v) for k, v in best.user_attrs.items() if isinstance(v, int | float)}
    return TuneResult(
        study=study,
        best_config=best_config,
        best_loss=float(best.value if best.value is not None else math.inf),
        best_scores=scores,
        ranking=ranking,
        winner=winner,
        space=space,
        settings=settings,
        n_new_trials=done,
        wall_s=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _Search:
    """What running trials of one study needs, in the parent or in a worker."""

    data: TuneData
    base: StrataConfig
    settings: TuneSettings
    space: SearchSpace
    fixed: str | None
    study_name: str
    folds: Folds


def _run_trials(
    search: _Search, study: optuna.Study, trials: int, progress: ProgressCallback
) -> int:
    """``study.optimize`` for ``trials`` trials in this process; the number that ran."""
    data, settings = search.data, search.settings
    done = 0

    def objective(trial: optuna.Trial) -> float:
        try:
            return evaluate(trial)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            # One failing corner of the space must not end a long study: Optuna records
            # the trial as failed (catch below); the error lands in trials.csv.
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
            raise

    def evaluate(trial: optuna.Trial) -> float:
        config = suggest_config(trial, search.space, search.base, embedder=search.fixed)
        backend = config.embed.backend
        trial.set_user_attr("embedder", backend)
        X = data.embedding(backend)

        def report(fold: int, running: float) -> None:
            trial.report(running, step=fold)
            if trial.should_prune():
                raise optuna.TrialPruned(f"fold {fold}: running loss {running:.4f}")

        cv = cross_validate(
            X, data.keyword_texts, data.ids, config.ensemble, search.folds, settings.weights,
            data.labels or None, on_fold=report,
        )  # fmt: skip
        for key, value in cv.summary().items():
            trial.set_user_attr(key, value)
        return cv.loss

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal done
        done += 1
        progress("trials", done, trials)
        logger.info("trial %d %s: %s", trial.number, trial.state.name, trial.value)

    progress("trials", 0, trials)
    study.optimize(
        objective,
        n_trials=trials,
        timeout=settings.timeout,
        catch=(Exception,),
        callbacks=[after_trial],
    )
    return done


def default_jobs(settings: TuneSettings, fanout: FanOut | None = None) -> int:
    """Workers when ``n_jobs`` is not given: one per CPU core (of the cluster, when the
    workers run on a ``fanout`` such as Ray), at most one per trial; one with an
    in-memory storage (worker processes cannot share it)."""
    if _in_memory(settings.storage):
        return 1
    cores = fanout.workers(settings.trials) if fanout is not None else available_cpus()
    return max(1, min(cores, settings.trials))


def _in_memory(storage: str) -> bool:
    return storage.rstrip("/") in ("sqlite:", "sqlite:///:memory:")


def split_trials(trials: int, workers: int) -> list[int]:
    """``trials`` shared out over at most ``workers`` workers, none of them empty."""
    n = max(1, min(trials, workers))
    return [trials // n + (1 if i < trials % n else 0) for i in range(n)]


def _run_workers(search: _Search, map_workers: MapFn | None, progress: ProgressCallback) -> int:
    """Run the trials in parallel workers; the number of trials they ran."""
    data = search.data
    backends = [search.fixed] if search.fixed else list(search.space.embedders)
    for backend in dict.fromkeys(backends or [search.base.embed.backend]):
        try:  # once here, not once per worker
            data.embedding(backend)
        except (TopicStrataError, OSError, ImportError) as exc:
            logger.warning("embedder %s is not available to the workers: %s", backend, exc)
    settings = search.settings.model_copy(update={"n_jobs": 1})
    items = {
        f"worker {i}": {
            "ids": data.ids,
            "embed_texts": data.embed_texts,
            "keyword_texts": data.keyword_texts,
            "labels": dict(data.labels),
            "embeddings": dict(data.embeddings),
            "base": search.base.model_dump(mode="json"),
            "settings": settings.model_dump(mode="json", exclude={"space"}),
            "space": search.space.model_dump(mode="json"),
            "fixed": search.fixed,
            "study_name": search.study_name,
            "trials": share,
            "worker": i,
        }
        for i, share in enumerate(
            split_trials(search.settings.trials, search.settings.n_jobs or 1), 1
        )
    }
    logger.info("running %d trials in %d worker processes", search.settings.trials, len(items))
    progress("trials", 0, search.settings.trials)
    run_map = map_workers or LocalFanOut(len(items))
    done = sum(int(n) for n in run_map(trial_worker, items).values())
    progress("trials", done, search.settings.trials)
    return done


def trial_worker(
    ids: list[str],
    embed_texts: list[str],
    keyword_texts: list[str],
    labels: dict[str, Any],
    embeddings: dict[str, Any],
    base: dict[str, Any],
    settings: dict[str, Any],
    space: dict[str, Any],
    fixed: str | None,
    study_name: str,
    trials: int,
    worker: int,
) -> int:
    """One parallel worker: open the shared study, run ``trials`` trials, return how many ran.

    Plain arguments, so any process pool (or the pipeline's fan-out, which hashes
    them) can ship it; the folds are rebuilt from the seed, identical to the parent's.
    """
    data = TuneData(ids, embed_texts, keyword_texts, labels=labels, embeddings=embeddings)
    config = StrataConfig.from_dict(base, source="tune worker")
    tuned = TuneSettings.model_validate(settings)
    folds = make_folds(len(data), tuned.folds, tuned.seed, tuned.probe_share)
    search_space = SearchSpace.model_validate(space)
    search = _Search(data, config, tuned, search_space, fixed, study_name, folds)
    study = open_study(tuned, study_name, worker=worker)
    return _run_trials(search, study, trials, null_progress)


def _rank_embedders(
    study: optuna.Study,
    data: TuneData,
    base: StrataConfig,
    embedders: list[str],
    folds: Folds,
    settings: TuneSettings,
    progress: ProgressCallback,
) -> list[dict[str, Any]]:
    """Cross-validated loss of the base ensemble with each backend, best first.

    Stored in the study's user attributes, so a resumed study does not redo it.
    """
    stored = study.user_attrs.get(RANKING_ATTR)
    if stored and {r["backend"] for r in stored} == set(embedders):
        return [{**r, "loss": math.inf if r["loss"] is None else r["loss"]} for r in stored]
    rows: list[dict[str, Any]] = []
    if len(embedders) == 1:
        rows.append({"backend": embedders[0], "loss": math.nan, "note": "only candidate"})
    for i, backend in enumerate(embedders if len(embedders) > 1 else []):
        progress("embedders", i, len(embedders))
        started = time.perf_counter()
        try:
            X = data.embedding(backend)
            cv: CVResult = cross_validate(
                X, data.keyword_texts, data.ids, base.ensemble, folds, settings.weights,
                data.labels or None,
            )  # fmt: skip
        except (TopicStrataError, OSError, ImportError) as exc:
            logger.warning("embedder %s could not be scored: %s", backend, exc)
            rows.append({"backend": backend, "loss": math.inf, "error": str(exc)})
            continue
        row = {"backend": backend, **cv.summary(), "seconds": time.perf_counter() - started}
        logger.info("embedder %s: loss %.4f", backend, cv.loss)
        rows.append(row)
    progress("embedders", len(embedders), len(embedders))
    rows.sort(key=lambda r: r["loss"])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    study.set_user_attr(RANKING_ATTR, _jsonable(rows))
    return rows


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON has no infinity: a backend that could not be scored gets loss None."""
    return [{**r, "loss": r["loss"] if math.isfinite(r["loss"]) else None} for r in rows]


def _search_ranking(
    completed: list[optuna.trial.FrozenTrial], embedders: list[str]
) -> list[dict[str, Any]]:
    """Best trial loss per backend when the backend was a search dimension."""
    rows: list[dict[str, Any]] = []
    for backend in embedders:
        values = [
            t.value
            for t in completed
            if t.user_attrs.get("embedder") == backend and t.value is not None
        ]
        rows.append(
            {
                "backend": backend,
                "loss": min(values) if values else math.inf,
                "trials": len(values),
            }
        )
    rows.sort(key=lambda r: r["loss"])
    return [{**r, "rank": i} for i, r in enumerate(rows, start=1)]
