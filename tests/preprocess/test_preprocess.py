"""preprocess(): order, length, dedupe, cache."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topicstrata.io.schema import EMBED_TEXT, KEYWORD_TOKENS
from topicstrata.preprocess import PreprocessCache, PreprocessConfig, preprocess
from topicstrata.preprocess import views as views_module

NOTES = [
    "Opportunity Details: Acme is renewing contracts. Next steps: send the quote.",
    "",
    "Customer Needs: they're migrating their data warehouse to the cloud https://x.example.com",
    "Opportunity Details: Acme is renewing contracts. Next steps: send the quote.",
    None,
    "???",
]


def test_one_row_per_input_in_order(shared_extractors) -> None:
    frame = preprocess(NOTES, PreprocessConfig(mode="fast"))
    assert list(frame.columns) == [EMBED_TEXT, KEYWORD_TOKENS]
    assert len(frame) == len(NOTES)
    assert frame.iloc[0].tolist() == [
        "Acme is renewing contracts. send the quote.",
        "acme renew contract send quote",
    ]
    assert frame.iloc[3].tolist() == frame.iloc[0].tolist()
    assert frame.iloc[1].tolist() == ["", ""]
    assert frame.iloc[4].tolist() == ["", ""]
    assert frame.iloc[2, 0] == "they are migrating their data warehouse to the cloud"
    assert not frame.isna().any().any()


def test_keeps_a_series_index(shared_extractors) -> None:
    texts = pd.Series(["renewing contracts", "cloud migration"], index=[10, 7])
    frame = preprocess(texts, PreprocessConfig(mode="fast"))
    assert frame.index.tolist() == [10, 7]


def test_dedupes_before_spacy(shared_extractors, monkeypatch) -> None:
    seen: list[int] = []
    original = views_module.ViewMaker.__call__

    def spy(self, texts):
        seen.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(views_module.ViewMaker, "__call__", spy)
    preprocess(["same text"] * 50 + ["other"], PreprocessConfig(mode="fast"))
    assert seen == [2]


def test_cache_hit_is_identical_and_skips_spacy(shared_extractors, tmp_path, monkeypatch) -> None:
    config = PreprocessConfig(mode="full")
    first = preprocess(NOTES, config, cache_dir=tmp_path)

    def no_spacy(*args, **kwargs):
        raise AssertionError("spaCy must not run on a fully cached input")

    monkeypatch.setattr(views_module, "KeywordExtractor", no_spacy)
    monkeypatch.setattr("spacy.load", no_spacy)
    again = preprocess(NOTES, config, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first, again)


def test_cache_computes_only_new_texts(shared_extractors, tmp_path, monkeypatch) -> None:
    config = PreprocessConfig(mode="fast")
    preprocess(["alpha deals", "beta deals"], config, cache_dir=tmp_path)
    seen: list[list[str]] = []
    original = views_module.ViewMaker.__call__

    def spy(self, texts):
        seen.append(list(texts))
        return original(self, texts)

    monkeypatch.setattr(views_module.ViewMaker, "__call__", spy)
    frame = preprocess(["beta deals", "gamma deals", "alpha deals"], config, cache_dir=tmp_path)
    assert seen == [["gamma deals"]]
    assert frame[KEYWORD_TOKENS].tolist() == ["beta deal", "gamma deal", "alpha deal"]


def test_config_change_misses_the_cache(shared_extractors, tmp_path) -> None:
    preprocess(["renewing contracts"], PreprocessConfig(mode="fast"), cache_dir=tmp_path)
    stricter = PreprocessConfig(mode="fast", extra_stop_words=("contract",))
    frame = preprocess(["renewing contracts"], stricter, cache_dir=tmp_path)
    assert frame[KEYWORD_TOKENS].tolist() == ["renew"]
    with PreprocessCache(tmp_path, stricter.fingerprint()) as cache:
        assert len(cache) == 2


def test_speed_settings_keep_the_cache() -> None:
    a = PreprocessConfig(n_process=1, batch_size=8)
    b = PreprocessConfig(n_process=4, batch_size=512)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != PreprocessConfig(mode="fast").fingerprint()


def test_progress_reaches_total(shared_extractors) -> None:
    calls: list[tuple[str, int, int | None]] = []
    preprocess(NOTES, PreprocessConfig(mode="fast"), progress=lambda *a: calls.append(a))
    assert calls[0] == ("preprocess", 0, len(NOTES))
    assert calls[-1] == ("preprocess", len(NOTES), len(NOTES))


def test_worker_processes_match_in_process(shared_extractors, monkeypatch) -> None:
    from topicstrata.preprocess import run

    texts = [f"Customer Needs: renewing {i} contracts for team {i % 7}" for i in range(60)]
    local = preprocess(texts, PreprocessConfig(mode="fast", n_process=1))
    monkeypatch.setitem(run.MIN_TEXTS_PER_WORKER, "fast", 10)
    pooled = preprocess(texts, PreprocessConfig(mode="fast", n_process=2, batch_size=16))
    pd.testing.assert_frame_equal(local, pooled)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(st.text(max_size=40), st.none()), max_size=12))
def test_never_drops_a_record(shared_extractors, texts) -> None:
    frame = preprocess(texts, PreprocessConfig(mode="fast"))
    assert len(frame) == len(texts)
    assert frame.notna().all().all()
    for tokens in frame[KEYWORD_TOKENS]:
        assert tokens == " ".join(tokens.split())


def test_rejects_bad_config() -> None:
    from topicstrata.errors import ConfigError

    with pytest.raises(ConfigError, match="mode"):
        PreprocessConfig(mode="turbo")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_process"):
        PreprocessConfig(n_process=0)


def test_worker_processes_give_the_in_process_views(monkeypatch, shared_extractors, caplog) -> None:
    """The pool path (forkserver workers, each loading spaCy) returns exactly what one
    process makes, in input order."""
    from topicstrata.preprocess import run as run_module

    texts = [
        f"Customer {i} needs {['cloud backup', 'crm licences', 'data migration'][i % 3]} "
        f"for site {i % 17}; next steps: call back"
        for i in range(900)
    ]
    alone = preprocess(texts, PreprocessConfig(mode="fast", n_process=1))
    monkeypatch.setitem(run_module.MIN_TEXTS_PER_WORKER, "fast", 100)
    with caplog.at_level("INFO", logger="topicstrata.preprocess.run"):
        pooled = preprocess(texts, PreprocessConfig(mode="fast", n_process=2, batch_size=100))
    assert "preprocessing in 2 worker processes" in caplog.text
    pd.testing.assert_frame_equal(pooled, alone)
    assert run_module._context().get_start_method() in ("forkserver", "spawn")
