"""Preprocessing: two views of every record's text.

- ``embed_text``: a light clean for sentence encoders (template headers, URLs
  and e-mail addresses removed, contractions expanded, whitespace normalised,
  case kept): :func:`clean_for_embedding`.
- ``keyword_tokens``: space-joined lowercase lemmas without stop words,
  punctuation, numbers or named entities, for c-TF-IDF keywords. Entities are
  found by spaCy on a sample of the corpus (:func:`learn_entity_filter`), or on
  every record with ``PreprocessConfig(entity_filter="record")``.

:func:`preprocess` makes both for many records, with deduplication, an optional
content-hash cache and spaCy in worker processes. See ``docs/preprocess.md``.
"""

from __future__ import annotations

from topicstrata.preprocess.cache import PreprocessCache
from topicstrata.preprocess.clean import clean_for_embedding
from topicstrata.preprocess.config import (
    DEFAULT_ENTITY_LABELS,
    DEFAULT_TEMPLATE_PATTERNS,
    PreprocessConfig,
)
from topicstrata.preprocess.contractions import expand_contractions
from topicstrata.preprocess.run import (
    ChunkWorkers,
    EntitySample,
    WorkersFactory,
    learn_entity_filter,
    preprocess,
)

__all__ = [
    "DEFAULT_ENTITY_LABELS",
    "DEFAULT_TEMPLATE_PATTERNS",
    "ChunkWorkers",
    "EntitySample",
    "PreprocessCache",
    "PreprocessConfig",
    "WorkersFactory",
    "clean_for_embedding",
    "expand_contractions",
    "learn_entity_filter",
    "preprocess",
]
