"""Expand English contractions ("don't" -> "do not") with a small fixed table.

The ``contractions`` package is not a dependency, and CRM notes use a handful of
forms, so a table does. Possessive ``'s`` stays ("customer's"); only pronoun
forms where ``'s`` means "is" are expanded ("it's", "that's"). Both the ASCII
apostrophe and the typographic one (U+2019) are recognised. Outputs contain no
apostrophe, so expanding twice changes nothing.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["expand_contractions"]

#: Whole words with irregular expansions.
_IRREGULAR: Final[dict[str, str]] = {
    "can't": "cannot",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
    "y'all": "you all",
}

#: Suffixes with one expansion each, attached to the preceding word.
_SUFFIXES: Final[dict[str, str]] = {
    "n't": " not",
    "'re": " are",
    "'ve": " have",
    "'ll": " will",
    "'m": " am",
    "'d": " would",
}

#: Words whose ``'s`` means "is" rather than a possessive.
_IS_WORDS: Final = frozenset(
    {
        *("it", "that", "there", "here", "what", "where", "who", "how", "he", "she", "this"),
        *("everything", "nothing", "something", "someone"),
    }
)

#: Any word with an inner apostrophe; the table decides what it becomes.
_CANDIDATE_RE = re.compile(r"\b\w+['\u2019]\w+\b")


def _shouted(source: str) -> bool:
    letters = [c for c in source if c.isalpha()]
    return len(letters) > 1 and all(c.isupper() for c in letters)


def _expand(word: str) -> str:
    key = word.lower().replace("\u2019", "'")
    expansion = _IRREGULAR.get(key)
    if expansion is not None:
        stem = ""
    elif key.endswith("n't") and len(key) > 3:
        stem, expansion = word[:-3], _SUFFIXES["n't"]
    elif key[-3:] in _SUFFIXES and key[-3] == "'":
        stem, expansion = word[:-3], _SUFFIXES[key[-3:]]
    elif key[-2:] in _SUFFIXES:
        stem, expansion = word[:-2], _SUFFIXES[key[-2:]]
    elif key.endswith("'s") and key[:-2] in _IS_WORDS:
        stem, expansion = word[:-2], " is"
    else:
        return word
    if _shouted(word):
        return stem + expansion.upper()
    if not stem and word[:1].isupper():
        return expansion[:1].upper() + expansion[1:]
    return stem + expansion


def expand_contractions(text: str) -> str:
    """Return ``text`` with contractions written out; case is kept."""
    if "'" not in text and "\u2019" not in text:
        return text
    return _CANDIDATE_RE.sub(lambda m: _expand(m.group(0)), text)
