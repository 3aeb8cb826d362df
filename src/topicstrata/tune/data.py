"""What a study tunes on: records (ids, two text views, labels) and their embeddings.

Embeddings are computed once per backend and kept in memory for every trial
and fold; with a ``cache_dir`` they also land in the embedding cache, so the
next study (or ``strata fit``) on the same texts does not encode them again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.config import EmbedConfig, StrataConfig
from topicstrata.errors import InputError
from topicstrata.io.schema import EMBED_TEXT, ID, KEYWORD_TOKENS
from topicstrata.run import steps

logger = logging.getLogger(__name__)

__all__ = ["TuneData", "load_tune_data", "sample_rows", "tune_data_from_views"]


@dataclass
class TuneData:
    """Rows aligned across every field; ``embeddings`` may hold precomputed matrices.

    ``embed_config`` gives the options of the base backend; other backends
    are built with their defaults.
    """

    ids: list[str]
    embed_texts: list[str]
    keyword_texts: list[str]
    labels: dict[str, Sequence[str | None]] = field(default_factory=dict)
    embeddings: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    cache_dir: Path | None = None
    embed_config: EmbedConfig = field(default_factory=EmbedConfig)

    def __post_init__(self) -> None:
        n = len(self.ids)
        sizes = {"embed_texts": len(self.embed_texts), "keyword_texts": len(self.keyword_texts)}
        sizes |= {f"labels[{k}]": len(v) for k, v in self.labels.items()}
        sizes |= {f"embeddings[{k}]": len(v) for k, v in self.embeddings.items()}
        wrong = {k: v for k, v in sizes.items() if v != n}
        if wrong:
            raise InputError(f"tune data: {n} ids but {wrong}; pass one value per record.")
        if len(set(self.ids)) != n:
            raise InputError("tune data: record ids must be unique.")
        if n < 20:
            raise InputError(f"tune data: only {n} records; cross-validation needs at least 20.")

    def __len__(self) -> int:
        return len(self.ids)

    def tokens(self) -> list[list[str]]:
        return [t.split() for t in self.keyword_texts]

    def embedding(
        self, backend: str, progress: ProgressCallback = null_progress
    ) -> NDArray[np.float32]:
        """The matrix for ``backend``, computed (or read from the cache) on first use."""
        if backend not in self.embeddings:
            options = self.embed_config.options if backend == self.embed_config.backend else {}
            config = self.embed_config.model_copy(update={"backend": backend, "options": options})
            embedder = steps.build_embedder(config, self.embed_texts)
            cache = self.cache_dir / "embeddings" if self.cache_dir is not None else None
            logger.info("embedding %d records with %s", len(self), backend)
            self.embeddings[backend] = steps.embed(
                self.embed_texts, embedder, config, cache, progress
            )
        return self.embeddings[backend]


def sample_rows(n: int, sample: int | None, seed: int) -> NDArray[np.intp]:
    """Sorted row positions of the seeded tuning sample (all rows when ``n <= sample``)."""
    if sample is None or n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


def tune_data_from_views(
    table: pd.DataFrame,
    views: pd.DataFrame,
    rows: NDArray[np.intp],
    label_cols: Sequence[str],
    embeddings: NDArray[np.float32],
    embed_config: EmbedConfig,
) -> TuneData:
    """The tuning sample ``rows`` of a fit's ingested table, its views and its vectors
    (what the pipeline's tuning step, and a SageMaker tuning trial, have in hand)."""
    sample, sample_views = table.iloc[rows], views.iloc[rows]
    return TuneData(
        ids=sample[ID].astype(str).tolist(),
        embed_texts=sample_views[EMBED_TEXT].tolist(),
        keyword_texts=sample_views[KEYWORD_TOKENS].tolist(),
        labels={c: sample[c].astype(str).tolist() for c in label_cols},
        embeddings={embed_config.backend: np.asarray(embeddings)[rows]},
        embed_config=embed_config,
    )


def load_tune_data(
    path: str | Path,
    base: StrataConfig,
    *,
    label_cols: list[str] | None = None,
    sample: int | None = 10_000,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback = null_progress,
) -> TuneData:
    """Ingest ``path`` as ``strata fit`` would, keep a seeded sample, preprocess it."""
    ingested = steps.ingest(path, base.ingest_config(), progress)
    table = ingested.table
    labels = steps.label_columns(table, label_cols) if label_cols else []
    rows = sample_rows(len(table), sample, seed)
    if len(rows) < len(table):
        table = table.iloc[rows]
        logger.info("tuning on a sample of %d of %d records", sample, len(ingested.table))
    cache = Path(cache_dir) if cache_dir is not None else None
    views = steps.make_views(
        table, base.preprocess_config(), cache / "preprocess" if cache else None, progress
    )
    return TuneData(
        ids=steps.id_column(table),
        embed_texts=views[EMBED_TEXT].tolist(),
        keyword_texts=views[KEYWORD_TOKENS].tolist(),
        labels={c: _label_values(table[c]) for c in labels},
        cache_dir=cache,
        embed_config=base.embed,
    )


def _label_values(column: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(v) for v in column]
