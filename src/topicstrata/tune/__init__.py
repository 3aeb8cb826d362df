"""topicstrata.tune: Optuna search over configs, scored by a cross-validated loss.

- :mod:`.space`: the search space and how a trial becomes a ``StrataConfig``.
- :mod:`.loss`: the loss terms and how they combine (see ``docs/tuning.md``).
- :mod:`.cv`: K-fold cross-validation on a fixed embedding matrix.
- :mod:`.data`: the sampled records and their per-backend embeddings.
- :mod:`.study`: ``tune`` (the study, embedding ranking, resume).
- :mod:`.report`: output files, plots, MLflow.
- :mod:`.api`: ``run_tune``, records file to output folder (``strata tune``).
"""

from topicstrata.tune.api import TuneRun, load_tune_config, run_tune
from topicstrata.tune.cv import CVResult, Folds, cross_validate, make_folds
from topicstrata.tune.data import TuneData, load_tune_data
from topicstrata.tune.loss import FoldScores, LossWeights, combine, fold_loss, score_fold
from topicstrata.tune.report import log_tuning, write_outputs
from topicstrata.tune.space import SearchSpace, default_space, suggest_config
from topicstrata.tune.study import DEFAULT_STORAGE, TuneResult, TuneSettings, tune

__all__ = [
    "DEFAULT_STORAGE",
    "CVResult",
    "FoldScores",
    "Folds",
    "LossWeights",
    "SearchSpace",
    "TuneData",
    "TuneResult",
    "TuneRun",
    "TuneSettings",
    "combine",
    "cross_validate",
    "default_space",
    "fold_loss",
    "load_tune_config",
    "load_tune_data",
    "log_tuning",
    "make_folds",
    "run_tune",
    "score_fold",
    "suggest_config",
    "tune",
    "write_outputs",
]
