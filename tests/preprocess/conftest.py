"""Shared fixtures: one spaCy load per session, per mode."""

from __future__ import annotations

import pytest

from topicstrata.preprocess import PreprocessConfig
from topicstrata.preprocess.nlp import KeywordExtractor


@pytest.fixture(scope="session")
def full_extractor() -> KeywordExtractor:
    return KeywordExtractor(PreprocessConfig(mode="full"))


@pytest.fixture(scope="session")
def fast_extractor() -> KeywordExtractor:
    return KeywordExtractor(PreprocessConfig(mode="fast"))


@pytest.fixture()
def shared_extractors(monkeypatch, full_extractor, fast_extractor):
    """Make ``preprocess`` reuse the session's pipelines instead of loading spaCy again."""
    from topicstrata.preprocess import views

    def extractor_for(config: PreprocessConfig, nlp=None) -> KeywordExtractor:
        base = full_extractor if config.mode == "full" else fast_extractor
        if config == base.config and nlp is None:
            return base
        return KeywordExtractor(config, nlp=nlp if nlp is not None else base.nlp)

    monkeypatch.setattr(views, "KeywordExtractor", extractor_for)
    return extractor_for
