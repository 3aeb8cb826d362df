"""The MLflow pyfunc wrapper around a saved ``TopicPredictor``.

The predictor directory travels as the pyfunc artefact ``model``. The class
is logged as MLflow "model from code" (``_pyfunc_entry.py``, which imports
it), not pickled, so any installed topicstrata can load a logged version and
``mlflow.pyfunc.load_model(uri).predict(df)`` returns paths and labels.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from topicstrata.errors import ModelError
from topicstrata.registry.tracking import import_mlflow

if TYPE_CHECKING:
    from topicstrata.ensemble.predictor import TopicPredictor

logger = logging.getLogger(__name__)

ARTIFACT_KEY = "model"
ENTRY_FILE = Path(__file__).with_name("_pyfunc_entry.py")

_PythonModel: Any = import_mlflow().pyfunc.PythonModel


class TopicStrataPyfunc(_PythonModel):
    """Records in (a DataFrame with ``text`` or the fitted text columns), topic paths out."""

    def __init__(self) -> None:
        self.predictor: TopicPredictor | None = None

    def load_context(self, context: Any) -> None:
        from topicstrata.ensemble.predictor import TopicPredictor

        self.predictor = TopicPredictor.load(context.artifacts[ARTIFACT_KEY])

    # A pandas hint, unlike list[...] or Any, makes MLflow skip schema inference and validation.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if self.predictor is None:
            raise ModelError(
                "the pyfunc model has no predictor; load it with mlflow.pyfunc.load_model(uri)."
            )
        records: Any = model_input
        if isinstance(records, pd.Series):
            records = records.to_frame(name=records.name or "text")
        elif not isinstance(records, pd.DataFrame):
            records = list(records)
        return self.predictor.predict(records)
