"""The study: resume after an interruption, embedding ranking, samplers."""

from __future__ import annotations

import json

import optuna
import pytest

from topicstrata.errors import ConfigError
from topicstrata.tune import TuneSettings, tune, write_outputs
from topicstrata.tune.study import default_jobs, split_trials


def settings(tmp_path, space, **kw):
    # One worker: these tests read the order of trials.
    base = {
        "trials": 3,
        "folds": 2,
        "storage": f"sqlite:///{tmp_path}/optuna.db",
        "seed": 0,
        "n_jobs": 1,
    }
    return TuneSettings(space=space, **(base | kw))


def test_interrupted_study_resumes_and_numbering_continues(tmp_path, tune_data, base_config, space):
    first = tune(tune_data, base_config, settings(tmp_path, space, study_name="resume"))
    assert [t.number for t in first.study.trials] == [0, 1, 2]
    # "Interrupt": a new process opens the same storage and study name.
    again = tune(tune_data, base_config, settings(tmp_path, space, study_name="resume"))
    numbers = [t.number for t in again.study.trials]
    assert numbers == [0, 1, 2, 3, 4, 5] and again.n_new_trials == 3
    stored = optuna.load_study(study_name="resume", storage=f"sqlite:///{tmp_path}/optuna.db")
    assert len(stored.trials) == 6
    # The reseeded sampler does not replay the first session's start-up draws.
    params = [tuple(sorted(t.params.items())) for t in stored.trials]
    assert params[3:] != params[:3]


def test_default_study_name_finds_the_same_study(tmp_path, tune_data, base_config, space):
    a = tune(tune_data, base_config, settings(tmp_path, space, trials=1))
    b = tune(tune_data, base_config, settings(tmp_path, space, trials=1))
    assert a.study.study_name == b.study.study_name and len(b.study.trials) == 2
    c = tune(tune_data, base_config, settings(tmp_path, space, trials=1, folds=3))
    assert c.study.study_name != a.study.study_name


def test_embedding_ranking_is_recorded(tmp_path, tune_data, base_config, space):
    ranked = space.model_copy(update={"embedders": ["static", "tfidf-svd"]})
    result = tune(tune_data, base_config, settings(tmp_path, ranked, trials=2))
    assert result.winner == "tfidf-svd"  # 'static' is noise in this fixture
    assert [r["backend"] for r in result.ranking] == ["tfidf-svd", "static"]
    assert result.ranking[0]["loss"] < result.ranking[1]["loss"]
    attrs = result.study.user_attrs
    assert attrs["embedding_winner"] == "tfidf-svd"
    assert [r["backend"] for r in attrs["embedding_ranking"]] == ["tfidf-svd", "static"]
    assert result.best_config.embed.backend == "tfidf-svd"
    assert all(t.user_attrs["embedder"] == "tfidf-svd" for t in result.study.trials)
    files = write_outputs(result, tmp_path / "out")
    recorded = json.loads(files["embedders"].read_text())
    assert recorded["winner"] == "tfidf-svd" and len(recorded["ranking"]) == 2


def test_embedder_as_a_search_dimension(tmp_path, tune_data, base_config, space):
    searched = space.model_copy(
        update={"embedders": ["static", "tfidf-svd"], "embedder_selection": "search"}
    )
    result = tune(tune_data, base_config, settings(tmp_path, searched, trials=4, sampler="random"))
    assert {t.params["embedder"] for t in result.study.trials} <= {"static", "tfidf-svd"}
    assert "embedding_ranking_search" in result.study.user_attrs
    assert result.best_config.embed.backend == result.winner


@pytest.mark.parametrize("sampler", ["gp", "random"])
def test_other_samplers_run(tmp_path, tune_data, base_config, space, sampler):
    result = tune(tune_data, base_config, settings(tmp_path, space, trials=2, sampler=sampler))
    assert len(result.study.trials) == 2 and result.best_loss < 0


def test_a_failing_trial_is_recorded_and_the_study_goes_on(
    tmp_path, tune_data, base_config, space, monkeypatch
):
    from topicstrata.tune import study as study_module

    real = study_module.cross_validate
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("a corner of the space the library cannot fit")
        return real(*args, **kwargs)

    monkeypatch.setattr(study_module, "cross_validate", flaky)
    result = tune(tune_data, base_config, settings(tmp_path, space, trials=2))
    states = [t.state for t in result.study.trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert "cannot fit" in result.study.trials[0].user_attrs["error"]


def test_a_new_study_starts_with_the_base_config(tmp_path, tune_data, base_config, space):
    result = tune(tune_data, base_config, settings(tmp_path, space, study_name="warm"))
    first = result.study.trials[0]
    assert first.user_attrs["source"] == "base config"
    assert first.params == {"l1.k_low": 5, "l1.k_span": 2, "l1.n_components": 8, "repr.min_df": 2}
    assert result.best_loss <= first.value
    # With labels, trial 1 starts from the label hierarchy: k = the 8 true_l1 classes.
    second = result.study.trials[1]
    assert second.user_attrs["source"] == "label hierarchy"
    assert second.params["l1.k_low"] == 8 and second.params["l1.k_span"] == 0
    # Resuming does not enqueue it again; enqueue_base=False leaves trial 0 to the sampler.
    again = tune(tune_data, base_config, settings(tmp_path, space, study_name="warm", trials=1))
    assert [t.user_attrs.get("source") for t in again.study.trials].count("base config") == 1
    cold = tune(
        tune_data,
        base_config,
        settings(tmp_path, space, study_name="cold", enqueue_base=False, enqueue_labels=False),
    )
    assert not any("source" in t.user_attrs for t in cold.study.trials)


def test_split_trials_shares_the_budget():
    assert split_trials(7, 3) == [3, 2, 2]
    assert split_trials(2, 4) == [1, 1]
    assert sum(split_trials(30, 4)) == 30


def _in_process(func, items):
    """A MapFn without processes: checks what the workers do, cheaply."""
    return {key: func(**kwargs) for key, kwargs in items.items()}


def test_parallel_workers_share_one_study(tmp_path, tune_data, base_config, space):
    calls = []

    def spy(func, items):
        calls.append(sorted(items))
        return _in_process(func, items)

    s = settings(tmp_path, space, trials=5, n_jobs=2, study_name="workers", sampler="random")
    result = tune(tune_data, base_config, s, map_workers=spy)
    assert calls == [["worker 1", "worker 2"]]
    trials = result.study.trials
    assert [t.number for t in trials] == [0, 1, 2, 3, 4] and result.n_new_trials == 5
    assert trials[0].user_attrs["source"] == "base config"
    # Each worker's sampler has its own seed: no two workers draw the same values.
    drawn = [tuple(sorted(t.params.items())) for t in trials[1:]]
    assert len(set(drawn)) == len(drawn)
    assert result.best_loss == min(t.value for t in trials if t.value is not None)


def test_parallel_workers_run_in_processes(tmp_path, tune_data, base_config, space):
    """Enqueued starts run once, in the parent, before the workers start: two workers
    on SQLite could pop the same waiting trial, and the second failed to report it."""
    s = settings(tmp_path, space, trials=4, n_jobs=2, study_name="procs")
    result = tune(tune_data, base_config, s)  # default MapFn: a LocalFanOut, loky processes
    trials = result.study.trials
    assert len(trials) == 4 and result.n_new_trials == 4
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    sources = [t.user_attrs.get("source") for t in trials]
    assert sources[:2] == ["base config", "label hierarchy"] and sources[2:] == [None, None]
    assert result.best_config.ensemble.layers[0].k_range[0] in range(4, 9)


def test_parallel_workers_need_a_shared_storage(tune_data, base_config, space):
    s = TuneSettings(space=space, trials=2, folds=2, n_jobs=2, storage="sqlite:///:memory:")
    with pytest.raises(ConfigError, match="cannot share the in-memory storage"):
        tune(tune_data, base_config, s)


def test_tpe_models_the_parameters_jointly():
    from topicstrata.tune.study import make_sampler

    sampler = make_sampler("tpe", seed=0, startup=3)
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert sampler._multivariate and sampler._group and sampler._constant_liar
    assert sampler._n_startup_trials == 3


def test_trials_run_one_worker_per_core_unless_told(tmp_path, monkeypatch):
    """A trial's UMAP layout uses one core: by default a study runs a worker per core,
    except on an in-memory storage, which worker processes cannot share."""
    monkeypatch.setattr("topicstrata.tune.study.available_cpus", lambda: 4)
    on_file = f"sqlite:///{tmp_path}/optuna.db"
    assert default_jobs(TuneSettings(storage=on_file, trials=30)) == 4
    assert default_jobs(TuneSettings(storage=on_file, trials=3)) == 3
    assert default_jobs(TuneSettings(storage="sqlite:///:memory:", trials=30)) == 1
