"""Issue 15: ``strata tune --executor ray`` runs the trial workers as Ray tasks on the
shared Optuna storage, through the same fan-out protocol as the local processes."""

from __future__ import annotations

import os

import optuna
import pytest

from topicstrata.tune import TuneSettings, tune

ray = pytest.importorskip("ray", reason="the Ray executor needs `pip install 'topicstrata[ray]'`")

from topicstrata.raycluster import RayFanOut, connect  # noqa: E402


class _Spy(RayFanOut):
    """A RayFanOut that records which workers it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def imap(self, func, items):
        self.seen.extend(items)
        yield from super().imap(func, items)


def test_trial_workers_run_as_ray_tasks_on_shared_storage(tmp_path, tune_data, base_config, space):
    connect(num_cpus=2)
    try:
        settings = TuneSettings(
            space=space,
            trials=4,
            folds=2,
            storage=f"sqlite:///{tmp_path}/optuna.db",
            seed=0,
            n_jobs=None,  # on Ray: one worker per cluster CPU, at most one per trial
            study_name="on-ray",
        )
        spy = _Spy()
        result = tune(tune_data, base_config, settings, map_workers=spy)
    finally:
        ray.shutdown()
    assert spy.seen == ["worker 1", "worker 2"]
    trials = result.study.trials
    assert len(trials) == 4 and result.n_new_trials == 4
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    assert result.best_loss == min(t.value for t in trials if t.value is not None)
    # The study lives in the shared storage, readable by anyone after the run.
    stored = optuna.load_study(study_name="on-ray", storage=settings.storage)
    assert len(stored.trials) == 4
    assert os.path.exists(tmp_path / "optuna.db")
