"""The steps of a fit as plain functions: values in, values out, no files written.

The default pipeline (``topicstrata.pipeline.topic``) wraps them as cached,
tracked steps; ``strata tune`` reads its data with them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.config import EmbedConfig
from topicstrata.embed import Embedder, embed_texts, get_embedder
from topicstrata.ensemble import Ensemble, EnsembleConfig
from topicstrata.ensemble.predictor import TopicPredictor
from topicstrata.errors import InputError
from topicstrata.evaluate import evaluate_assignments
from topicstrata.io import IngestConfig, IngestResult, read_records
from topicstrata.io.schema import ID, KEYWORD_TOKENS, TEXT, TRUTH_LEVELS
from topicstrata.preprocess import PreprocessConfig, WorkersFactory, preprocess

logger = logging.getLogger(__name__)


def ingest(
    path: str | Path, config: IngestConfig, progress: ProgressCallback = null_progress
) -> IngestResult:
    """Read and validate the records (every row accounted for in the report)."""
    return read_records(path, config, progress=progress)


def make_views(
    table: pd.DataFrame,
    config: PreprocessConfig,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback = null_progress,
    workers: WorkersFactory | None = None,
) -> pd.DataFrame:
    """The two text views of every record, index aligned with ``table``; ``workers``
    process the chunks of texts elsewhere (see ``preprocess``)."""
    views = preprocess(
        table[TEXT].tolist(), config, cache_dir=cache_dir, progress=progress, workers=workers
    )
    views.index = table.index
    return views


def build_embedder(config: EmbedConfig, corpus: Sequence[str] | None = None) -> Embedder:
    """The configured backend; fittable backends (``tfidf-svd``) are fitted on ``corpus``."""
    embedder = get_embedder(config.backend, **config.options)
    fit = getattr(embedder, "fit", None)
    if callable(fit) and corpus is not None and not getattr(embedder, "is_fitted", True):
        fit(list(corpus))
    return embedder


def embed(
    texts: Sequence[str],
    embedder: Embedder,
    config: EmbedConfig,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback = null_progress,
) -> NDArray[np.float32]:
    return embed_texts(
        list(texts),
        embedder,
        cache_dir=cache_dir,
        use_cache=cache_dir is not None,
        batch_size=config.batch_size,
        progress=progress,
    )


def label_columns(table: pd.DataFrame, requested: Sequence[str] | None = None) -> list[str]:
    """Label columns to evaluate against: those requested, else the synthetic truth if present."""
    if requested:
        missing = [c for c in requested if c not in table.columns]
        if missing:
            import difflib

            hints = {c: difflib.get_close_matches(c, map(str, table.columns), n=3) for c in missing}
            raise InputError(
                "label column(s) not in the data: "
                + "; ".join(f"{c!r} (closest: {', '.join(h) or 'none'})" for c, h in hints.items())
                + ". Pass --labels with existing column names, coarsest level first."
            )
        return list(requested)
    return [c for c in TRUTH_LEVELS if c in table.columns]


#: Records the NPMI of a run's topics is counted on (a seeded sample above this).
NPMI_SAMPLE = 100_000


def evaluate(
    ensemble: Ensemble,
    table: pd.DataFrame,
    views: pd.DataFrame,
    label_cols: Sequence[str] = (),
) -> dict[str, Any]:
    """Per-level agreement with ``label_cols``, NPMI and diversity of the leaf topics, and
    both per level of the tree (``keyword_levels``).

    NPMI counts co-occurrences in a seeded sample of at most ``NPMI_SAMPLE`` records:
    the estimate is stable long before a million documents, and the count is not.
    """
    paths = ensemble.assignments_["path"].to_numpy()
    labels = {c: table[c].to_numpy() for c in label_cols} if label_cols else None
    entries = ensemble.mapping_.by_path()
    leaves = sorted(set(paths) - {"-1"})
    topic_words = [entries[p].keywords for p in leaves if p in entries and entries[p].keywords]
    keyword_texts = views[KEYWORD_TOKENS].to_numpy()
    if len(keyword_texts) > NPMI_SAMPLE:
        rng = np.random.default_rng(0)
        keyword_texts = keyword_texts[np.sort(rng.choice(len(keyword_texts), NPMI_SAMPLE, False))]
    corpus = [t.split() for t in keyword_texts]
    return evaluate_assignments(
        paths,
        labels=labels,
        topic_words=topic_words or None,
        corpus_tokens=corpus,
        tree_keywords={path: entry.keywords for path, entry in entries.items()},
    )


def layer1_stability(
    embeddings: NDArray[np.float32], config: EnsembleConfig, sample: int = 5000
) -> float | None:
    """ARI between two fits of layer 1 that differ only in their seed.

    Both are fitted on the same random sample of at most ``sample`` records, so
    the cost is bounded and the result depends only on the embeddings and the
    layer-1 settings (mapping edits do not invalidate it). ``None`` when
    ``sample`` is 0.
    """
    from sklearn.metrics import adjusted_rand_score

    if sample <= 0:
        return None
    n = len(embeddings)
    rng = np.random.default_rng(config.random_state)
    rows = np.sort(rng.choice(n, min(n, sample), replace=False))
    layer = config.layers[0]
    k_lo = min(layer.k_range[0], max(2, len(rows) - 1))
    layer = layer.model_copy(update={"k_range": (k_lo, max(k_lo, layer.k_range[1]))})
    first = layer.build(config.random_state).fit(embeddings[rows]).labels_
    second = layer.build(config.random_state + 1).fit(embeddings[rows]).labels_
    return round(float(adjusted_rand_score(first, second)), 4)


def predictor_for(
    ensemble: Ensemble,
    embedder: Embedder,
    embed_config: EmbedConfig,
    preprocess_config: PreprocessConfig,
    text_cols: Sequence[str] | None,
) -> TopicPredictor:
    return TopicPredictor(ensemble, embedder, embed_config.options, preprocess_config, text_cols)


def id_column(table: pd.DataFrame) -> list[str]:
    return table[ID].astype(str).tolist()


def student_agreement(
    ensemble: Ensemble, embeddings: NDArray[np.float32], holdout: dict[str, NDArray[Any]]
) -> dict[str, Any]:
    """How often the student's vector routes a held-out record where the teacher's does.

    ``holdout`` holds teacher-embedded rows the student did not learn from, with the
    student's vectors for them (``embed_sampled``); empty when the teacher embedded
    everything. Returns the share of agreeing paths per level (``l1``, ``l2``...).
    """
    rows = np.asarray(holdout.get("rows", []), dtype=np.intp)
    if len(rows) == 0:
        return {}
    by_teacher = ensemble.predict(np.asarray(embeddings)[rows])
    by_student = ensemble.predict(np.asarray(holdout["student"]))
    levels = [c for c in by_teacher.columns if c.startswith("path_l")]
    return {
        "student_agreement": {
            c.removeprefix("path_"): round(float((by_teacher[c] == by_student[c]).mean()), 4)
            for c in levels
        },
        "student_agreement_rows": len(rows),
    }
