"""The light clean: examples and Hypothesis invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topicstrata.errors import ConfigError
from topicstrata.preprocess import PreprocessConfig, clean_for_embedding, expand_contractions

CRM_NOTE = (
    "Opportunity Details: Acme wants to renew.\n\nCustomer Needs:  They're looking for SSO; "
    "see https://acme.example.com/sso?x=1. Contact john.doe@acme.example.com.\n"
    "Next steps: we'll send a proposal [EXTERNAL] Sent from my iPhone"
)

# Text that looks like CRM notes: words, headers, URLs, e-mails, apostrophes, odd unicode.
crm_fragments = st.sampled_from(
    [
        "Customer Needs:",
        "Next steps:",
        "Opportunity Details:",
        "NEXT STEPS :",
        "https://x.example.com/a?b=1",
        "www.example.org",
        "a.b@example.com",
        "don't",
        "DON'T",
        "it’s",
        "customer's",
        "renewal",
        "\n\n",
        "\u200b",
        "\x00",
        ":",
        "'",
        " ",
    ]
)
crm_like = st.lists(st.one_of(crm_fragments, st.text(max_size=8)), max_size=12).map("".join)
any_text = st.one_of(st.text(), crm_like)


def test_removes_templates_urls_and_emails_and_keeps_case() -> None:
    assert clean_for_embedding(CRM_NOTE) == (
        "Acme wants to renew. They are looking for SSO; see . Contact . we will send a proposal"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We don't know", "We do not know"),
        ("DON'T", "DO NOT"),
        ("Can't and won’t", "Cannot and will not"),
        ("they're, we've, I'm, you'll, she'd", "they are, we have, I am, you will, she would"),
        ("It's the customer's call", "It is the customer's call"),
        ("let's go", "let us go"),
    ],
)
def test_expands_contractions(text: str, expected: str) -> None:
    assert expand_contractions(text) == expected


def test_headers_revealed_by_a_removal_are_removed_too() -> None:
    # Removing "[EXTERNAL]" joins "Next" and "steps:" into a header the next pass removes.
    assert clean_for_embedding("Next [EXTERNAL] steps: SSO") == "SSO"
    assert clean_for_embedding("Opportunity Next steps: Details: SSO") == "Opportunity SSO"


def test_combined_templates_keep_backreferences_working() -> None:
    # A pattern with a backreference is not merged into the alternation (its group
    # numbers would shift), so it still matches what it matched alone.
    config = PreprocessConfig(template_patterns=(r"\bfoo\s*:", r"(ab)\1"))
    assert clean_for_embedding("Foo: abab x", config) == "x"


def test_custom_template_patterns() -> None:
    config = PreprocessConfig(template_patterns=(r"\bdeal\s+memo\s*:",))
    assert clean_for_embedding("Deal Memo: Next steps: call", config) == "Next steps: call"


@pytest.mark.parametrize("value", [None, float("nan"), "", "   \n\t "])
def test_missing_or_blank_becomes_empty(value: object) -> None:
    assert clean_for_embedding(value) == ""  # type: ignore[arg-type]


def test_invalid_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"template_patterns\[0\]"):
        PreprocessConfig(template_patterns=("(",))
    with pytest.raises(ConfigError, match="empty string"):
        PreprocessConfig(template_patterns=("x*",))


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_clean_never_raises_and_is_idempotent(text: str) -> None:
    once = clean_for_embedding(text)
    assert isinstance(once, str)
    assert clean_for_embedding(once) == once
    assert once == once.strip()
    assert "  " not in once
    once.encode("utf-8")  # no lone surrogates: the cache can store it


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_contractions_idempotent(text: str) -> None:
    once = expand_contractions(text)
    assert expand_contractions(once) == once
