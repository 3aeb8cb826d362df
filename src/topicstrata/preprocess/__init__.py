"""Preprocessing: two views of every record's text.

- ``embed_text``: a light clean for sentence encoders (template headers, URLs
  and e-mail addresses removed, contractions expanded, whitespace normalised,
  case kept): :func:`clean_for_embedding`.
- ``keyword_tokens``: space-joined lowercase lemmas without stop words,
  punctuation, numbers or named entities, for c-TF-IDF keywords.

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
from topicstrata.preprocess.run import preprocess

__all__ = [
    "DEFAULT_ENTITY_LABELS",
    "DEFAULT_TEMPLATE_PATTERNS",
    "PreprocessCache",
    "PreprocessConfig",
    "clean_for_embedding",
    "expand_contractions",
    "preprocess",
]
