"""The vocabulary entity filter: the sample, the learned filter, and preprocess() with it."""

from __future__ import annotations

import itertools
import random

import pandas as pd
import pytest

from topicstrata.io.schema import KEYWORD_TOKENS
from topicstrata.preprocess import PreprocessConfig, learn_entity_filter, preprocess
from topicstrata.preprocess import views as views_module
from topicstrata.preprocess.vocabulary import VocabularyFilter, draw_sample, sample_order

VERBS = [
    "is renewing contracts",
    "wants to migrate the data warehouse",
    "asked for a quote on analytics licenses",
    "signed the renewal",
    "is looking for better dashboards",
]
TEAMS = ["finance", "marketing", "support", "sales", "operations", "security"]
# spaCy's small model reads "Acme Corporation" as an ORG in every one of these and
# "Globex" in none: a planted answer for the filter to learn from a few records.
CORPUS = [f"Acme Corporation {v} for the {t} team." for v, t in itertools.product(VERBS, TEAMS)]
CORPUS += [f"Globex {v} for the {t} team." for v, t in itertools.product(VERBS, TEAMS)]

SMALL_SAMPLE = PreprocessConfig(entity_sample=8, entity_contexts=3)


def evidence(*entries: str) -> str:
    return " ".join(entries)


# --- the learned filter, on hand-made evidence (no spaCy) ---------------------------


def test_filter_drops_words_mostly_inside_entities() -> None:
    documents = [
        (["Acme", "renews", "contracts"], evidence("NNP*", "VBZ", "NNS")),
        (["Acme", "signed"], evidence("NNP*", "VBD")),
        (["contracts", "with", "acme"], evidence("NNS", "", "NNP*")),
    ]
    words = VocabularyFilter(share=0.5).fit(documents)
    assert words.is_entity("", "Acme", "renews")
    assert words.is_entity("with", "acme", "")  # the lowercase form was seen too
    assert words.is_entity("for", "ACME", "now")  # unseen form: the lowercase word decides
    assert not words.is_entity("", "contracts", "")
    assert words.tag("contracts") == "NNS"
    assert words.tag("acme") == ""  # seen only inside entities


def test_context_overrides_the_word() -> None:
    inside = (["Experience", "Cloud", "suite"], evidence("NNP*", "NNP*", "NN"))
    outside = (["hybrid", "Cloud", "plan"], evidence("JJ", "NN", "NN"))
    words = VocabularyFilter(share=0.5).fit([inside, inside, outside, outside, outside])
    assert words.is_entity("Experience", "Cloud", "suite")
    assert not words.is_entity("hybrid", "Cloud", "plan")
    assert not words.is_entity("private", "Cloud", "")  # unseen context: 2 of 5 < 0.5


def test_share_is_the_threshold() -> None:
    documents = [(["Cloud"], evidence("NNP*"))] + [(["Cloud"], evidence("NN"))] * 3
    assert VocabularyFilter(share=0.25).fit(documents).is_entity("", "Cloud", "")
    assert not VocabularyFilter(share=0.5).fit(documents).is_entity("", "Cloud", "")


def test_unseen_words_follow_their_shape() -> None:
    documents = [(["met", "Aisha", "today"], evidence("VBD", "NNP*", "NN"))] * 2
    words = VocabularyFilter().fit(documents)
    assert words.is_entity("met", "Priya", "today")  # capitalised between lowercase words
    assert not words.is_entity("met", "priya", "today")  # shape never seen: kept


def test_mismatched_evidence_is_skipped() -> None:
    words = VocabularyFilter().fit([(["two", "words"], evidence("NN"))])
    assert words.n_documents_ == 0
    assert not words.is_entity("", "words", "")


# --- the sample ---------------------------------------------------------------------


def test_sample_stops_drawing_a_term_after_contexts_records() -> None:
    records = [{"cloud", "acme"}] * 5 + [{"cloud"}] * 5 + [{"rare"}]
    assert draw_sample(records, contexts=2, size=100) == [0, 1, 10]
    assert draw_sample(records, contexts=2, size=2) == [0, 1]


def test_sample_reads_records_lazily() -> None:
    read: list[int] = []

    def records():
        for i in range(1_000):
            read.append(i)
            yield {f"word{i}"}

    assert draw_sample(records(), contexts=1, size=3) == [0, 1, 2]
    assert read == [0, 1, 2]


def test_sample_order_is_seeded_and_ignores_input_order() -> None:
    texts = [f"note {i}" for i in range(50)]
    order = [texts[i] for i in sample_order(texts, 0)]
    shuffled = texts[::-1]
    assert [shuffled[i] for i in sample_order(shuffled, 0)] == order
    assert [texts[i] for i in sample_order(texts, 1)] != order


# --- preprocess() with the vocabulary filter -----------------------------------------


def test_learns_a_planted_entity_from_a_few_records(shared_extractors) -> None:
    frame = preprocess(CORPUS, SMALL_SAMPLE)
    learned = learn_entity_filter(CORPUS, SMALL_SAMPLE)
    assert len(learned.keywords) < len(CORPUS) / 2  # most records never met spaCy
    tokens = [set(kw.split()) for kw in frame[KEYWORD_TOKENS]]
    assert not any({"acme", "corporation"} & t for t in tokens)
    assert all("globex" in t for t in tokens[len(CORPUS) // 2 :])
    assert all({"team"} <= t for t in tokens)
    assert frame[KEYWORD_TOKENS][0] == "renew contract finance team"


def test_matches_the_record_filter_on_the_planted_corpus(shared_extractors) -> None:
    record = preprocess(CORPUS, PreprocessConfig(entity_filter="record"))
    vocabulary = preprocess(CORPUS, SMALL_SAMPLE)
    pd.testing.assert_frame_equal(record, vocabulary)


def test_tags_from_the_sample_give_tagged_lemmas(shared_extractors) -> None:
    frame = preprocess(CORPUS, SMALL_SAMPLE)
    fast = preprocess(CORPUS, PreprocessConfig(mode="fast"))
    # "looking": a noun to the untagged rules, a verb to the tagger.
    assert "looking" in fast[KEYWORD_TOKENS][len(CORPUS) - 1].split()
    assert "look" in frame[KEYWORD_TOKENS][len(CORPUS) - 1].split()
    assert all("looking" not in kw.split() for kw in frame[KEYWORD_TOKENS])


def test_deterministic_for_a_seed_and_any_input_order(shared_extractors) -> None:
    first = preprocess(CORPUS, SMALL_SAMPLE)
    again = preprocess(CORPUS, SMALL_SAMPLE)
    pd.testing.assert_frame_equal(first, again)
    order = list(range(len(CORPUS)))
    random.Random(0).shuffle(order)
    shuffled = preprocess([CORPUS[i] for i in order], SMALL_SAMPLE)
    assert shuffled[KEYWORD_TOKENS].tolist() == [first[KEYWORD_TOKENS][i] for i in order]
    other_seed = PreprocessConfig(entity_sample=8, entity_contexts=3, random_state=1)
    assert set(learn_entity_filter(CORPUS, other_seed).keywords) != set(
        learn_entity_filter(CORPUS, SMALL_SAMPLE).keywords
    )


def test_record_filter_runs_spacy_on_every_record(shared_extractors, monkeypatch) -> None:
    seen: list[int] = []
    original = views_module.ViewMaker.read_sample

    def spy(self, texts):
        seen.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(views_module.ViewMaker, "read_sample", spy)
    record = PreprocessConfig(entity_filter="record")
    frame = preprocess(CORPUS, record)
    assert seen == []  # no sample: spaCy per record
    assert frame[KEYWORD_TOKENS][0] == "renew contract finance team"
    preprocess(CORPUS, SMALL_SAMPLE)
    assert seen == [8]


def test_entity_options_enter_the_fingerprint_only_where_they_matter() -> None:
    base = PreprocessConfig()
    assert base.fingerprint() != PreprocessConfig(entity_filter="record").fingerprint()
    assert base.fingerprint() != PreprocessConfig(entity_share=0.5).fingerprint()
    assert base.fingerprint() != PreprocessConfig(random_state=1).fingerprint()
    record = PreprocessConfig(entity_filter="record")
    assert (
        record.fingerprint()
        == PreprocessConfig(entity_filter="record", entity_sample=10, random_state=3).fingerprint()
    )
    fast = PreprocessConfig(mode="fast")
    assert fast.fingerprint() == PreprocessConfig(mode="fast", entity_filter="record").fingerprint()


@pytest.mark.parametrize(
    ("field", "value"),
    [("entity_filter", "sentence"), ("entity_sample", 0), ("entity_share", 0), ("entity_share", 2)],
)
def test_rejects_bad_entity_options(field: str, value: object) -> None:
    from topicstrata.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        PreprocessConfig(**{field: value})  # type: ignore[arg-type]


def test_learn_entity_filter_needs_the_vocabulary_filter() -> None:
    from topicstrata.errors import ConfigError

    with pytest.raises(ConfigError, match="entity_filter='vocabulary'"):
        learn_entity_filter(CORPUS, PreprocessConfig(entity_filter="record"))


# --- the cache -------------------------------------------------------------------


def test_cache_rerun_is_identical_and_skips_spacy(shared_extractors, tmp_path, monkeypatch):
    first = preprocess(CORPUS, SMALL_SAMPLE, cache_dir=tmp_path)

    def no_spacy(*args, **kwargs):
        raise AssertionError("spaCy must not run on a cached corpus")

    monkeypatch.setattr(views_module, "KeywordExtractor", no_spacy)
    monkeypatch.setattr("spacy.load", no_spacy)
    again = preprocess(CORPUS[::-1], SMALL_SAMPLE, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first, again.iloc[::-1].reset_index(drop=True))


def test_a_grown_corpus_gets_fresh_views_and_rereads_only_new_samples(
    shared_extractors, tmp_path, monkeypatch
) -> None:
    half = CORPUS[::2]
    preprocess(half, SMALL_SAMPLE, cache_dir=tmp_path)
    read_before = set(learn_entity_filter(half, SMALL_SAMPLE).keywords)
    read: list[str] = []
    original = views_module.ViewMaker.read_sample

    def spy(self, texts):
        read.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(views_module.ViewMaker, "read_sample", spy)
    grown = preprocess(CORPUS, SMALL_SAMPLE, cache_dir=tmp_path)
    read_now = set(read)
    # Views depend on the corpus: a cached run equals an uncached one on the new corpus.
    pd.testing.assert_frame_equal(grown, preprocess(CORPUS, SMALL_SAMPLE))
    sample = set(learn_entity_filter(CORPUS, SMALL_SAMPLE).keywords)
    assert read_now  # the grown corpus drew new records...
    assert read_now == sample - read_before  # ...and spaCy read only those


def test_worker_processes_match_in_process(shared_extractors, monkeypatch) -> None:
    from topicstrata.preprocess import run

    local = preprocess(CORPUS, SMALL_SAMPLE)
    monkeypatch.setitem(run.MIN_TEXTS_PER_WORKER, "full", 10)
    pooled = preprocess(
        CORPUS, PreprocessConfig(entity_sample=8, entity_contexts=3, n_process=2, batch_size=16)
    )
    pd.testing.assert_frame_equal(local, pooled)


def test_progress_reaches_total(shared_extractors) -> None:
    calls: list[tuple[str, int, int | None]] = []
    preprocess(CORPUS, SMALL_SAMPLE, progress=lambda *a: calls.append(a))
    main = [c for c in calls if c[0] == "preprocess"]
    assert main[0] == ("preprocess", 0, len(CORPUS))
    assert main[-1] == ("preprocess", len(CORPUS), len(CORPUS))
    assert ("preprocess: entity sample", 8, 8) in calls
