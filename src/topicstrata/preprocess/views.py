"""The per-record work of preprocessing, in one process: clean, then keywords.

:class:`ViewMaker` is what each worker process holds; the module-level
``init_worker`` and ``run_in_worker`` are the picklable entry points a process
pool calls.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from topicstrata.preprocess.clean import clean_for_embedding
from topicstrata.preprocess.config import PreprocessConfig
from topicstrata.preprocess.nlp import KeywordExtractor
from topicstrata.preprocess.vocabulary import VocabularyFilter

__all__ = ["ViewMaker", "init_worker", "run_in_worker"]

logger = logging.getLogger(__name__)

Views = tuple[str, str]


class ViewMaker:
    """Make ``(embed_text, keyword_tokens)`` for raw texts with one loaded pipeline.

    With the vocabulary entity filter (``config.samples_entities``) calling it gives
    fast mode's views (cleaned text, untagged lemmas), whose sets of lemmas choose
    the sample; :meth:`read_sample` runs spaCy on the sample, and
    :meth:`filtered_views` and :meth:`keywords` make every other record's views
    with what it taught.
    """

    def __init__(self, config: PreprocessConfig) -> None:
        self.config = config
        self.extractor = KeywordExtractor(config)
        if config.samples_entities:
            fast = dataclasses.replace(config, mode="fast")
            self.per_record = KeywordExtractor(fast, nlp=self.extractor.nlp)
        else:
            self.per_record = self.extractor

    def __call__(self, texts: Sequence[str]) -> list[Views]:
        cleaned = [clean_for_embedding(text, self.config) for text in texts]
        # Texts that differ only in templates or whitespace clean to the same string.
        unique = list(dict.fromkeys(cleaned))
        keywords = dict(zip(unique, self.per_record.extract(unique), strict=True))
        return [(text, keywords[text]) for text in cleaned]

    def filtered_views(self, texts: Sequence[str], words: VocabularyFilter) -> list[Views]:
        """Views of raw texts, keywords with entities and tags from ``words``."""
        cleaned = [clean_for_embedding(text, self.config) for text in texts]
        unique = list(dict.fromkeys(cleaned))
        keywords = dict(zip(unique, self.extractor.extract_filtered(unique, words), strict=True))
        return [(text, keywords[text]) for text in cleaned]

    def read_sample(self, cleaned: Sequence[str]) -> list[tuple[str, str]]:
        """spaCy on cleaned sampled texts: ``(keyword_tokens, evidence)`` each."""
        return list(self.extractor.read_sample(cleaned))

    def keywords(self, cleaned: Sequence[str], words: VocabularyFilter) -> list[str]:
        """The keyword view of cleaned texts, entities and tags from ``words``."""
        return list(self.extractor.extract_filtered(cleaned, words))


_WORKER: ViewMaker | None = None


def init_worker(config: PreprocessConfig) -> None:
    """Pool initializer: load the pipeline once per worker process."""
    global _WORKER
    _WORKER = ViewMaker(config)


def run_in_worker(task: str, texts: Sequence[str], args: tuple[Any, ...]) -> list[Any]:
    """Pool task: ``ViewMaker.<task>(texts, *args)`` (``__call__`` for the views) with the
    worker's pipeline."""
    if _WORKER is None:  # pragma: no cover - the pool always runs init_worker first
        raise RuntimeError("run_in_worker called before init_worker")
    result: list[Any] = getattr(_WORKER, task)(texts, *args)
    return result
