"""The keyword view: lemmas, stop words, numbers and entities."""

from __future__ import annotations

import pytest
from sklearn.feature_extraction.text import CountVectorizer

from topicstrata.preprocess import PreprocessConfig
from topicstrata.preprocess.nlp import KeywordExtractor


def keywords(extractor: KeywordExtractor, text: str) -> list[str]:
    return next(extractor.extract([text])).split()


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_lemmas(mode: str, full_extractor, fast_extractor) -> None:
    extractor = full_extractor if mode == "full" else fast_extractor
    assert keywords(extractor, "renewing contracts") == ["renew", "contract"]
    assert keywords(extractor, "The licenses were renewed") == ["license", "renew"]


def test_full_mode_drops_people_organisations_places_and_amounts(full_extractor) -> None:
    text = (
        "John Smith from Microsoft Corporation is renewing contracts worth $2 million "
        "in Germany next week."
    )
    tokens = keywords(full_extractor, text)
    assert tokens == ["renew", "contract", "worth"]


def test_entity_labels_are_configurable(full_extractor) -> None:
    config = PreprocessConfig(entity_labels=("GPE",))
    extractor = KeywordExtractor(config, nlp=full_extractor.nlp)
    tokens = keywords(extractor, "John Smith is renewing contracts in Germany.")
    assert tokens == ["john", "smith", "renew", "contract"]


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_drops_stop_words_punctuation_numbers_and_short_tokens(
    mode: str, full_extractor, fast_extractor
) -> None:
    extractor = full_extractor if mode == "full" else fast_extractor
    tokens = keywords(
        extractor, "We need 250 seats, 3 servers and 2,000 licenses -- for the dashboards!"
    )
    assert tokens == ["need", "seat", "server", "license", "dashboard"]


def test_extra_stop_words_and_min_length(fast_extractor) -> None:
    config = PreprocessConfig(mode="fast", extra_stop_words=("Seat",), min_token_length=4)
    extractor = KeywordExtractor(config, nlp=fast_extractor.nlp)
    assert keywords(extractor, "Need seats for the API rollout") == ["need", "rollout"]


@pytest.mark.parametrize("text", ["", " ", "!!! ???", "12345 2024-01-01", "\u200b"])
def test_garbage_gives_empty_string(text: str, full_extractor) -> None:
    assert list(full_extractor.extract([text])) == [""]


def test_count_vectorizer_reads_the_tokens_back(full_extractor) -> None:
    docs = list(
        full_extractor.extract(
            ["Customer's e-mail/SSO roll-out for O365 and SAP S/4HANA", "CRM-to-ERP sync"]
        )
    )
    analyzer = CountVectorizer().build_analyzer()
    assert [analyzer(doc) for doc in docs] == [doc.split() for doc in docs]
