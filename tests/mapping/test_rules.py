"""Phrase and regex rules: whole words, any case, first matching rule wins."""

from __future__ import annotations

import numpy as np
import pytest

from topicstrata.errors import MappingError
from topicstrata.mapping import Rule, apply_rules, match_rules


def test_phrase_matches_whole_words_in_any_case_and_spacing():
    rules = [Rule(pattern="contact center", path="3")]
    texts = [
        "New Contact  Center rollout",
        "contact\ncenter migration",
        "contact centers everywhere",  # plural is another word
        "noncontact center",
        "contact-center",  # a hyphen is not whitespace
        "",
    ]
    assert apply_rules(texts, rules) == ["3", "3", None, None, None, None]


def test_phrase_with_punctuation_edges_is_still_whole_word():
    rules = [Rule(pattern="C++", path="1"), Rule(pattern=".NET", path="2")]
    assert apply_rules(["port C++, fast", "SC++", "move to .net core", "asp.net"], rules) == [
        "1",
        None,
        "2",
        None,
    ]


def test_phrase_metacharacters_are_literal():
    rules = [Rule(pattern="a.b", path="1")]
    assert apply_rules(["a.b", "axb"], rules) == ["1", None]


def test_regex_rule_is_case_insensitive():
    rules = [Rule(pattern=r"\brpa\b|robotic process", regex=True, path="5")]
    assert apply_rules(["RPA bots", "Robotic Process Automation", "rpath"], rules) == [
        "5",
        "5",
        None,
    ]


def test_first_rule_in_document_order_wins():
    rules = [
        Rule(pattern="fraud", path="2"),
        Rule(pattern="card fraud", path="2.1"),
        Rule(pattern="card", path="4"),
    ]
    texts = ["card fraud alerts", "credit card", "nothing"]
    assert apply_rules(texts, rules) == ["2", "4", None]
    assert match_rules(texts, rules).tolist() == [0, 2, -1]


def test_missing_and_non_text_values_never_match():
    rules = [Rule(pattern=".*", regex=True, path="1")]
    assert apply_rules(np.array([None, np.nan, "x"], dtype=object), rules) == [None, None, "1"]


def test_no_rules_match_nothing():
    assert apply_rules(["a", "b"], []) == [None, None]


def test_many_records_with_repeats():
    texts = ["chatbot for support", "invoice ocr", "other"] * 100_000
    rules = [Rule(pattern="chatbot", path="0"), Rule(pattern="invoice", path="1")]
    got = match_rules(texts, rules)
    assert got.shape == (300_000,)
    assert got[:3].tolist() == [0, 1, -1]


def test_bad_regex_names_the_rule():
    with pytest.raises(MappingError, match=r"rule 2: pattern '\(' is not a valid regular"):
        apply_rules(["x"], [Rule(pattern="x", path="1"), Rule(pattern="(", regex=True, path="1")])
