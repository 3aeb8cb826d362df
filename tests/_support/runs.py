"""A cheap but real fit config (TF-IDF embeddings, PCA layers) and dirty input files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS
from topicstrata.synth import make_opportunities

CHEAP_CONFIG = {
    "embed": {"backend": "tfidf-svd", "options": {"n_components": 64}},
    "preprocess": {"mode": "fast", "n_process": 1},
    "ensemble": {
        "random_state": 0,
        "split": {"mode": "all", "min_size": 30},
        "layers": [
            {"k_range": [6, 10], "reducer": "pca", "n_components": 10},
            {"k_range": [2, 4], "reducer": "pca", "n_components": 5},
        ],
    },
}


def write_dirty_opportunities(path: Path, rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Synthetic opportunities plus 3 rejects: two empty texts and one duplicate id."""
    frame = make_opportunities(rows, seed=seed)
    text_cols = list(OPPORTUNITY_TEXT_FIELDS)
    empty = frame.iloc[:2].copy()
    empty["id"] = ["EMPTY-1", "EMPTY-2"]
    empty[text_cols] = ""
    dup = frame.iloc[[5]].copy()
    out = pd.concat([frame, empty, dup], ignore_index=True)
    out.to_csv(path, index=False)
    return out
