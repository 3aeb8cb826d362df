"""Both views of a batch of raw texts, in one process: clean, then keywords.

:class:`ViewMaker` is what each worker process holds; the module-level
``init_worker`` and ``make_views_in_worker`` are the picklable entry points a
process pool calls.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from topicstrata.preprocess.clean import clean_for_embedding
from topicstrata.preprocess.config import PreprocessConfig
from topicstrata.preprocess.nlp import KeywordExtractor

__all__ = ["ViewMaker", "init_worker", "make_views_in_worker"]

logger = logging.getLogger(__name__)

Views = tuple[str, str]


class ViewMaker:
    """Make ``(embed_text, keyword_tokens)`` for raw texts with one loaded pipeline."""

    def __init__(self, config: PreprocessConfig) -> None:
        self.config = config
        self.extractor = KeywordExtractor(config)

    def __call__(self, texts: Sequence[str]) -> list[Views]:
        cleaned = [clean_for_embedding(text, self.config) for text in texts]
        # Texts that differ only in templates or whitespace clean to the same string.
        unique = list(dict.fromkeys(cleaned))
        keywords = dict(zip(unique, self.extractor.extract(unique), strict=True))
        return [(text, keywords[text]) for text in cleaned]


_WORKER: ViewMaker | None = None


def init_worker(config: PreprocessConfig) -> None:
    """Pool initializer: load the pipeline once per worker process."""
    global _WORKER
    _WORKER = ViewMaker(config)


def make_views_in_worker(texts: Sequence[str]) -> list[Views]:
    """Pool task: the views of one chunk, with the worker's pipeline."""
    if _WORKER is None:  # pragma: no cover - the pool always runs init_worker first
        raise RuntimeError("make_views_in_worker called before init_worker")
    return _WORKER(texts)
