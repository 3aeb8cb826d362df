"""The large-input path: the teacher embeds a sample, a fitted student embeds the rest.

MiniLM runs at ~60 records/s on two cores, so a million records would take ~5 hours.
On large inputs (``SamplingConfig.min_rows`` unique texts or more) the teacher embeds a
seeded sample of ``teacher_rows`` unique texts; a :class:`StudentEmbedder` is fitted on
all but a held-out share of them and embeds every other text. Every layer model of the
ensemble learns from a sample as large as on the all-teacher path (``max_fit_samples``):
all its teacher-embedded records (``SampledEmbedding.teacher_rows``), then seeded random
student-embedded ones up to that size, and assigns the others. The teacher rows alone
(8,000) were too few: layer 1's k search chose other k than on 50,000 teacher vectors;
the student's vectors route like the teacher's (bench/README.md). The held-out teacher
records measure how often the student's vector routes a record where the teacher's does
(``SampledEmbedding.holdout``), reported per level in the run's metrics.

From ``cover_layer1_from`` records on (100,000), the teacher sample is instead exactly the
rows layer 1 learns from (``layer1_sample``, drawn by :func:`topicstrata.sampling.
seeded_rows` as the layer draws it): layer 1 is then the very model an all-teacher fit
learns, and only the records outside its sample, and the deeper layers' choices, see
student vectors. With 8,000 teacher rows and 42,000 student rows in layer 1's sample, the
two fits agreed on 90.9% of records at level 1 at 100,000 records, within the all-teacher
fit's own seed-to-seed spread (91.7%), below the 95% issue 12 asks.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.embed.api import ChunkEncoder, embed_texts
from topicstrata.embed.base import Embedder
from topicstrata.embed.student import StudentEmbedder
from topicstrata.sampling import seeded_rows

logger = logging.getLogger(__name__)

__all__ = ["SampledEmbedding", "SamplingConfig", "embed_sampled"]


class SamplingConfig(BaseModel):
    """When and how the teacher embeds only a sample (``embed.sampling`` in a config)."""

    model_config = ConfigDict(extra="forbid")

    #: Off: the teacher embeds every record, whatever the size.
    enabled: bool = True
    #: Inputs with fewer unique texts than this are embedded whole by the teacher.
    min_rows: int = Field(15_000, ge=2)
    #: Unique texts the teacher embeds on a large input (a seeded random sample): at most
    #: this many, and at most ``teacher_share`` of the unique texts.
    teacher_rows: int = Field(8_000, ge=100)
    #: Share of the unique texts the teacher embeds where that is below ``teacher_rows``
    #: (20,000 texts: 5,000; from 32,000 texts on: ``teacher_rows``).
    teacher_share: float = Field(0.25, gt=0.0, le=1.0)
    #: Share of the teacher sample the student does not learn from: its agreement check.
    holdout: float = Field(0.1, ge=0.0, lt=1.0)
    seed: int = 0
    #: From this many records on, the teacher embeds the rows the first layer learns from
    #: (``layer1_sample``), so layer 1 is fitted on teacher vectors only and is the model
    #: the all-teacher path fits; the student embeds the rest. Costs a teacher pass over
    #: layer 1's ``max_fit_samples`` rows (50,000: ~15 min on 2 cores) instead of
    #: ``teacher_rows``. 0: never (the ``teacher_rows`` sample at every size).
    cover_layer1_from: int = Field(100_000, ge=0)
    #: ``(rows, seed)`` of layer 1's fit sample: set by the pipeline from the ensemble
    #: settings (its ``max_fit_samples`` and ``random_state``); None: no covering.
    layer1_sample: tuple[int, int] | None = None
    #: ``StudentEmbedder`` options (``ngram_range``, ``min_df``, ``max_features``, ``alpha``).
    student: dict[str, Any] = Field(default_factory=dict)


@dataclass
class SampledEmbedding:
    """Vectors for every text, and which rows the teacher embedded."""

    vectors: NDArray[np.float32]
    #: Row indices (into the texts given) whose vectors come from the teacher.
    teacher_rows: NDArray[np.intp]
    #: Held-out teacher rows with their student vectors: ``{"rows": ..., "student": ...}``.
    holdout: dict[str, NDArray[Any]] = field(default_factory=dict)
    #: What was done, for the run's metrics.
    summary: dict[str, Any] = field(default_factory=dict)


def embed_sampled(
    texts: Sequence[str],
    teacher: Embedder,
    config: SamplingConfig,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    progress: ProgressCallback = null_progress,
    encode_chunks: ChunkEncoder | None = None,
) -> SampledEmbedding:
    """Embed ``texts``: all with ``teacher`` on small inputs, else teacher sample + student.

    Teacher vectors are cached by text hash as ``embed_texts`` does (a killed run keeps
    the chunks it finished); the student is cheap and refitted each time.
    ``encode_chunks`` encodes the teacher's texts elsewhere (see ``embed_texts``).
    """
    docs = list(texts)
    n = len(docs)
    use_cache = cache_dir is not None
    unique, first, inverse = np.unique(np.asarray(docs, dtype=object), True, True)
    n_unique = len(unique)
    n_teacher = min(config.teacher_rows, math.ceil(config.teacher_share * n_unique))
    if not config.enabled or n_unique < max(config.min_rows, n_teacher + 2):
        vectors = embed_texts(
            docs,
            teacher,
            cache_dir=cache_dir,
            use_cache=use_cache,
            batch_size=batch_size,
            progress=progress,
            encode_chunks=encode_chunks,
        )
        return SampledEmbedding(
            vectors,
            np.arange(n),
            summary={"path": "teacher", "teacher": teacher.name, "teacher_rows": n},
        )

    rng = np.random.default_rng(config.seed)
    layer1 = _layer1_rows(n, config)
    if layer1 is not None:  # every text of layer 1's sample, whatever teacher_rows says
        chosen = np.unique(inverse[layer1])
    else:
        chosen = np.sort(rng.choice(n_unique, n_teacher, replace=False))
    n_holdout = round(config.holdout * len(chosen))
    held = np.sort(rng.choice(chosen, n_holdout, replace=False)) if n_holdout else chosen[:0]
    learn = np.setdiff1d(chosen, held, assume_unique=True)
    logger.info(
        "large input: %d unique texts; the teacher (%s) embeds %d, a student the rest",
        n_unique,
        teacher.name,
        len(chosen),
    )
    teacher_vectors = embed_texts(
        [str(unique[u]) for u in chosen],
        teacher,
        cache_dir=cache_dir,
        use_cache=use_cache,
        batch_size=batch_size,
        progress=progress,
        encode_chunks=encode_chunks,
    )
    position = np.full(n_unique, -1, dtype=np.intp)
    position[chosen] = np.arange(len(chosen))
    student = StudentEmbedder(**config.student).fit(
        [str(unique[u]) for u in learn], teacher_vectors[position[learn]]
    )
    student_held = student.encode([str(unique[u]) for u in held])
    cosine = (
        float(np.mean(np.sum(student_held * teacher_vectors[position[held]], axis=1)))
        if len(held)
        else None
    )
    # Rows, not unique texts: the result is written once, in row order, so a million
    # records hold one copy of their vectors (a text's copies share its vector).
    vectors = np.empty((n, teacher.dim), dtype=np.float32)
    is_teacher = position >= 0
    teacher_rows = np.flatnonzero(is_teacher[inverse])
    vectors[teacher_rows] = teacher_vectors[position[inverse[teacher_rows]]]
    _student_fill(vectors, student, unique, inverse, ~is_teacher, progress, done=len(held))
    held_rows = first[held]
    return SampledEmbedding(
        vectors,
        teacher_rows,
        holdout={"rows": held_rows, "student": student_held},
        summary={
            "path": "teacher sample + student",
            "teacher": teacher.name,
            "unique_texts": n_unique,
            "teacher_rows": len(teacher_rows),
            "teacher_texts": len(chosen),
            "student_fit_texts": len(learn),
            "holdout_texts": len(held),
            "holdout_cosine": None if cosine is None else round(cosine, 4),
            "covers_layer1_sample": layer1 is not None,
        },
    )


def _layer1_rows(n: int, config: SamplingConfig) -> NDArray[np.intp] | None:
    """The rows of layer 1's fit sample where the teacher is to embed them, else None."""
    if config.layer1_sample is None or not config.cover_layer1_from:
        return None
    rows, seed = config.layer1_sample
    if n < config.cover_layer1_from or rows >= n:
        return None
    return seeded_rows(n, rows, seed)


#: Unique texts the student encodes at a time (its batches are at least 8,192 long).
STUDENT_CHUNK = 65_536


def _student_fill(
    vectors: NDArray[np.float32],
    student: StudentEmbedder,
    unique: NDArray[np.object_],
    inverse: NDArray[np.intp],
    wanted: NDArray[np.bool_],
    progress: ProgressCallback,
    done: int = 0,
) -> None:
    """Write the student's vector of every unique text ``wanted`` into its rows, in place,
    a chunk of texts at a time (no second matrix the size of the input)."""
    rest = np.flatnonzero(wanted)  # unique texts, ascending
    rows = np.flatnonzero(wanted[inverse])
    rows = rows[np.argsort(inverse[rows], kind="stable")]  # grouped by text, ascending
    keys = inverse[rows]
    total = done + len(rest)
    progress("student", done, total)
    for start in range(0, len(rest), STUDENT_CHUNK):
        chunk = rest[start : start + STUDENT_CHUNK]
        encoded = student.encode([str(unique[u]) for u in chunk])
        lo = np.searchsorted(keys, chunk[0], side="left")
        hi = np.searchsorted(keys, chunk[-1], side="right")
        vectors[rows[lo:hi]] = encoded[np.searchsorted(chunk, keys[lo:hi])]
        progress("student", done + start + len(chunk), total)
