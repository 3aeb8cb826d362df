"""Readable default labels built from a topic's top keywords and phrases."""

from __future__ import annotations

import re
from collections.abc import Sequence

from topicstrata.mapping.paths import is_outlier

__all__ = ["LABEL_SEPARATOR", "OUTLIER_LABEL", "auto_label", "default_label"]

LABEL_SEPARATOR = " · "
_WORD_RE = re.compile(r"\w+")


def _words(term: str) -> set[str]:
    return {_stem(w) for w in _WORD_RE.findall(term.lower())}


def _stem(word: str) -> str:
    # Only the plural 's', so "chatbots" and "chatbot" count as one term.
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def auto_label(keywords: Sequence[str], phrases: Sequence[str], max_terms: int = 3) -> str:
    """Join up to ``max_terms`` distinct terms: the top keyword, then phrases, then keywords.

    The top keyword leads because c-TF-IDF ranks it as the most specific word;
    phrases follow because they read better than single words. A term is
    skipped when all its words already appear in the label, so "virtual agent"
    and "agent" do not both show. The first letter is capitalized, the rest
    kept as written (acronyms survive): ``"Chatbots · virtual agent · call deflection"``.
    Returns ``""`` when there are no terms.
    """
    candidates = [*keywords[:1], *phrases, *keywords[1:]]
    chosen: list[str] = []
    seen: set[str] = set()
    for raw in candidates:
        term = " ".join(raw.split())
        words = _words(term)
        if not term or not words or words <= seen:
            continue
        chosen.append(term)
        seen |= words
        if len(chosen) >= max_terms:
            break
    if not chosen:
        return ""
    chosen[0] = chosen[0][:1].upper() + chosen[0][1:]
    return LABEL_SEPARATOR.join(chosen)


OUTLIER_LABEL = "Outliers"


def default_label(path: str, keywords: Sequence[str], phrases: Sequence[str]) -> str:
    """The label a generated entry gets: ``auto_label``, else "Outliers" or "Topic <path>"."""
    label = auto_label(keywords, phrases)
    if label:
        return label
    return OUTLIER_LABEL if is_outlier(path) else f"Topic {path}"
