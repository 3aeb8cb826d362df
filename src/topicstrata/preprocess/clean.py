"""The light clean behind ``embed_text``: pure string functions, no spaCy.

One pass removes control characters, applies NFKC, removes e-mail addresses,
URLs and template headers (each replaced by a space, so no new words are glued
together), expands contractions and collapses whitespace. Removing one header can
reveal another ("Next Customer needs: steps:"), so passes repeat until the text
stops changing; that makes :func:`clean_for_embedding` idempotent by
construction. Each extra pass removes characters or apostrophes, so it ends.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata

from topicstrata.preprocess.config import PreprocessConfig
from topicstrata.preprocess.contractions import expand_contractions

__all__ = ["clean_for_embedding", "normalize_whitespace", "remove_urls_and_emails"]

logger = logging.getLogger(__name__)

_DEFAULT_CONFIG = PreprocessConfig()

#: Passes before giving up on a fixed point; real text needs two or three.
_MAX_PASSES = 25

# C0/C1 controls other than whitespace, lone surrogates (invalid in UTF-8, so
# unstorable) and private-use characters become spaces; invisible format
# characters (zero-width space, soft hyphen, BOM, bidi marks) are deleted.
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff\ue000-\uf8ff]")
_FORMAT_RE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")

# The lookbehind anchors a match at the start of a run, so failed attempts
# cost O(n) rather than O(n * word length).
_EMAIL_RE = re.compile(r"(?:\bmailto:)?(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_URL_RE = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE
)


def normalize_whitespace(text: str) -> str:
    """Collapse every run of Unicode whitespace to one space and strip the ends."""
    return " ".join(text.split())


def remove_urls_and_emails(text: str) -> tuple[str, int]:
    """Replace e-mail addresses and URLs by a space; return the text and the count."""
    n_emails = n_urls = 0
    if "@" in text:
        text, n_emails = _EMAIL_RE.subn(" ", text)
    if "://" in text or "www." in text.lower():
        text, n_urls = _URL_RE.subn(" ", text)
    return text, n_emails + n_urls


_BACKREF_RE = re.compile(r"\\[1-9]|\(\?P=")


@functools.lru_cache(maxsize=32)
def _compile_templates(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The template patterns as few regexes as possible: one alternation when they allow.

    One scan per pass instead of one per pattern (the default list has eleven); what a
    pattern removes can reveal another's match, which the next pass of
    :func:`clean_for_embedding` catches, as it does for separate patterns. Patterns with
    backreferences (their group numbers would shift) or clashing group names stay separate.
    """
    if len(patterns) > 1 and not any(_BACKREF_RE.search(p) for p in patterns):
        # A shared leading \b is tested once per position, not once per alternative:
        # half the time of the plain alternation on CRM text.
        bounded = [p[2:] for p in patterns if p.startswith(r"\b")]
        others = [p for p in patterns if not p.startswith(r"\b")]
        parts = [f"(?:{p})" for p in others]
        if bounded:
            parts.insert(0, r"\b(?:" + "|".join(f"(?:{p})" for p in bounded) + ")")
        try:
            return (re.compile("|".join(parts), re.IGNORECASE),)
        except re.error:  # e.g. two patterns define the same group name
            pass
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _clean_once(text: str, templates: tuple[re.Pattern[str], ...]) -> str:
    text = _CONTROL_RE.sub(" ", text)
    text = _FORMAT_RE.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    # Whitespace first, so user patterns written with single spaces still match.
    text = normalize_whitespace(text)
    text, _ = remove_urls_and_emails(text)
    for pattern in templates:
        text = pattern.sub(" ", text)
    text = expand_contractions(text)
    return normalize_whitespace(text)


def clean_for_embedding(text: str, config: PreprocessConfig | None = None) -> str:
    """Return the light-cleaned text an embedding model should see.

    Removes template headers (``config.template_patterns``), URLs and e-mail
    addresses, expands contractions and normalises whitespace; keeps case and
    punctuation, which sentence encoders use. Idempotent; never raises on a
    string. ``None`` and other non-strings are treated as ``""`` and ``str(x)``.
    """
    if not isinstance(text, str):
        text = "" if text is None or text != text else str(text)  # None or NaN
    templates = _compile_templates((config or _DEFAULT_CONFIG).template_patterns)
    for _ in range(_MAX_PASSES):
        cleaned = _clean_once(text, templates)
        if cleaned == text:
            return cleaned
        text = cleaned
    logger.warning(
        "clean_for_embedding did not reach a fixed point in %d passes; check "
        "template_patterns for rules that undo each other.",
        _MAX_PASSES,
    )
    return text
