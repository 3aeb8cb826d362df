"""``TopicPredictor``: raw records in, topic path/label/keywords/confidence out.

Bundles what prediction needs beyond the ensemble: the embedding backend (by
name and options, plus the fitted state of a fittable one such as
``tfidf-svd``) and the preprocessing settings. Prediction uses only the light
``embed_text`` clean (no spaCy), so it is cheap per record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from topicstrata.embed import Embedder, TfidfSvdEmbedder, embed_texts, get_embedder
from topicstrata.ensemble.model import Ensemble
from topicstrata.ensemble.persist import load_ensemble, save_ensemble
from topicstrata.errors import InputError
from topicstrata.io.schema import TEXT
from topicstrata.preprocess import PreprocessConfig, clean_for_embedding

logger = logging.getLogger(__name__)

PREDICTOR_FILE = "predictor.json"
EMBEDDER_STATE = "embedder.joblib"


class TopicPredictor:
    """A fitted ensemble with its embedder and cleaning settings."""

    def __init__(
        self,
        ensemble: Ensemble,
        embedder: Embedder,
        embedder_options: dict[str, Any] | None = None,
        preprocess: PreprocessConfig | None = None,
        text_cols: Sequence[str] | None = None,
    ) -> None:
        self.ensemble = ensemble
        self.embedder = embedder
        self.embedder_options = dict(embedder_options or {})
        self.preprocess = preprocess or PreprocessConfig()
        self.text_cols = list(text_cols) if text_cols else None

    def texts_of(self, records: pd.DataFrame | Sequence[str]) -> list[str]:
        """Raw text per record: a ``text`` column, the fitted text columns, or plain strings."""
        if not isinstance(records, pd.DataFrame):
            return ["" if r is None else str(r) for r in records]
        if TEXT in records.columns:
            return records[TEXT].fillna("").astype(str).tolist()
        cols = [c for c in (self.text_cols or []) if c in records.columns]
        if not cols:
            raise InputError(
                f"records need a '{TEXT}' column or the text columns the model was fitted on "
                f"({', '.join(self.text_cols or []) or 'none recorded'}); got "
                f"{', '.join(map(str, records.columns))}."
            )
        frame = records[cols].fillna("").astype(str)
        return ["\n".join(v for v in row if v.strip()) for row in frame.itertuples(index=False)]

    def predict(
        self,
        records: pd.DataFrame | Sequence[str],
        *,
        cache_dir: str | Path | None = None,
        use_cache: bool = False,
    ) -> pd.DataFrame:
        """One row per record: path, label, keywords, confidence, rule_applied, path_l1.."""
        texts = [clean_for_embedding(t, self.preprocess) for t in self.texts_of(records)]
        if not texts:
            return self.ensemble.predict(np.zeros((0, 1), dtype=np.float32), [])
        vectors = embed_texts(texts, self.embedder, cache_dir=cache_dir, use_cache=use_cache)
        return self.ensemble.predict(vectors, texts)

    def save(self, directory: str | Path) -> Path:
        """Save as a self-contained model directory (ensemble + predictor settings)."""
        extra: dict[str, Any] = {
            PREDICTOR_FILE: {
                "embedder": self.embedder.name,
                "embedder_options": self.embedder_options,
                "preprocess": _jsonable(asdict(self.preprocess)),
                "text_cols": self.text_cols,
            }
        }
        state = None
        if isinstance(self.embedder, TfidfSvdEmbedder):
            state = self.embedder
        return save_ensemble(
            self.ensemble,
            directory,
            extra_json=extra,
            extra_objects={EMBEDDER_STATE: state} if state else None,
        )

    @classmethod
    def load(cls, directory: str | Path) -> TopicPredictor:
        directory = Path(directory)
        ensemble = load_ensemble(directory)
        meta = json.loads((directory / PREDICTOR_FILE).read_text(encoding="utf-8"))
        if (directory / EMBEDDER_STATE).is_file():
            embedder: Embedder = TfidfSvdEmbedder.load(directory / EMBEDDER_STATE)
        else:
            embedder = get_embedder(meta["embedder"], **meta.get("embedder_options", {}))
        prep = meta.get("preprocess") or {}
        prep.pop("_fingerprint", None)
        return cls(
            ensemble,
            embedder,
            meta.get("embedder_options"),
            PreprocessConfig(**prep),
            meta.get("text_cols"),
        )


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data.pop("_fingerprint", None)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
