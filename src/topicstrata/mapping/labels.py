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
    phrases follow because they read better than single words. A term whose
    words all appear in the label already is skipped ("agent" after "virtual
    agent"); a phrase that contains a chosen term replaces it ("invoice
    processing" replaces "invoice"). The first letter is capitalized, the rest
    kept as written so acronyms survive: ``"Chatbots · virtual agent · call
    deflection"``. Returns ``""`` when there are no terms.
    """
    candidates = [*keywords[:1], *phrases, *keywords[1:]]
    chosen: list[tuple[str, set[str]]] = []
    for raw in candidates:
        term = " ".join(raw.split())
        words = _words(term)
        seen = set().union(*(w for _, w in chosen)) if chosen else set()
        if not words or words <= seen:
            continue
        covered = [i for i, (_, w) in enumerate(chosen) if w <= words]
        if covered:
            chosen[covered[0]] = (term, words)
            for i in reversed(covered[1:]):
                del chosen[i]
        elif len(chosen) < max_terms:
            chosen.append((term, words))
        if len(chosen) >= max_terms and not covered:
            break
    if not chosen:
        return ""
    first = chosen[0][0]
    terms = [first[:1].upper() + first[1:]] + [t for t, _ in chosen[1:]]
    return LABEL_SEPARATOR.join(terms)


OUTLIER_LABEL = "Outliers"


def default_label(path: str, keywords: Sequence[str], phrases: Sequence[str]) -> str:
    """The label a generated entry gets: "Outliers" for ``-1``, else ``auto_label``,
    else ``"Topic <path>"``."""
    if is_outlier(path):
        return OUTLIER_LABEL
    return auto_label(keywords, phrases) or f"Topic {path}"
