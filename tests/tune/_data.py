"""Constants shared by the tuning tests: a cheap base config and search space."""

from __future__ import annotations

from topicstrata.synth._generate import TEXT_FIELDS

BASE = {
    "embed": {"backend": "tfidf-svd", "options": {"n_components": 32}},
    "preprocess": {"mode": "fast", "n_process": 1},
    "ensemble": {
        "random_state": 0,
        "n_jobs": 1,
        "split": {"mode": "none"},
        "layers": [{"k_range": [5, 7], "reducer": "pca", "n_components": 8}],
    },
}

SPACE = {
    "layers": [{"k_low": [4, 8], "k_span": [0, 2], "n_components": [4, 12]}],
    "representation": {"min_df": [1, 3]},
}


def record_texts(frame) -> list[str]:
    cols = [frame[c].tolist() for c in TEXT_FIELDS]
    rows = zip(*cols, strict=True)
    return ["\n".join(p for p in parts if isinstance(p, str) and p) for parts in rows]
