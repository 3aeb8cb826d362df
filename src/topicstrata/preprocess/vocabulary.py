"""The vocabulary entity filter: spaCy reads a bounded sample, every record gets its decisions.

Running NER on every record costs about ten times the rest of preprocessing. The
words NER removes recur: customer and product names, first names, "Q3", "next
week". So spaCy (tok2vec, tagger, ner) reads a sample of records chosen to cover
the candidate keyword vocabulary (:func:`draw_sample`), and :class:`VocabularyFilter`
learns from it, per word, how often its occurrences were inside an entity: in the
same context (previous and next word), as the same surface form, as the same
lowercase word, and, for words the sample never saw, by the capitalisation of
the word and its neighbours. It also learns each word's most common tag, so
lemmas stay POS-aware without tagging every record.

Why contexts and not one decision per word: the small English model tags
ordinary words as parts of names in some contexts only ("Customer Experience
Cloud" is an ORG in about half its occurrences, "customer" alone almost never);
one decision per lowercase word kept only 73% of the words per-record NER
removes on synthetic opportunities, the context backoff at a share of 0.25 about
96%. See ``docs/preprocess.md`` for the measurements.

Evidence, what the sample yields per record, is one string: one space-separated
entry per ``\\w+`` word of the text, empty for words that can never be keywords
(stop words, numbers), else the word's tag with ``*`` appended when the word was
inside an entity of the configured labels. It is cached per text.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from typing import Self

__all__ = ["VocabularyFilter", "draw_sample", "sample_order"]

logger = logging.getLogger(__name__)

#: A context (previous word, word, next word) decides only when seen this often;
#: once is too noisy. Words and forms decide from one occurrence.
MIN_CONTEXT_COUNT = 2

#: Marks an entity occurrence in an evidence entry.
INSIDE = "*"
#: Stands for an empty tag (a model without a tagger) in an evidence entry.
NO_TAG = "~"


def _shape(word: str) -> str:
    """``X`` capitalised, ``d`` digit first, ``x`` other, ``^`` no word (text edge)."""
    if not word:
        return "^"
    first = word[0]
    return "X" if first.isupper() else "d" if first.isdigit() else "x"


def encode_entry(tag: str, inside: bool) -> str:
    """The evidence entry of one candidate word."""
    return (tag or NO_TAG) + (INSIDE if inside else "")


def sample_order(texts: Sequence[str], random_state: int) -> list[int]:
    """Indices of ``texts`` in a seeded pseudo-random order that depends on each text alone.

    A keyed hash, not a permutation: adding or removing records keeps the relative
    order of the others, so a grown corpus draws mostly the same sample and finds
    its evidence in the cache; input order and duplicates do not matter.
    """
    salt = random_state.to_bytes(16, "little", signed=True)

    def rank(i: int) -> bytes:
        data = texts[i].encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, digest_size=8, key=salt).digest()

    return sorted(range(len(texts)), key=rank)


def draw_sample(records: Iterable[Collection[str]], contexts: int, size: int) -> list[int]:
    """Positions of the records spaCy should read: each record, in the order given, that
    holds a term seen in fewer than ``contexts`` records drawn so far, until ``size``.

    ``records`` yields each record's set of candidate keywords; it is consumed only
    until the sample is full, so a lazy iterable spares cleaning the rest. Frequent
    terms fill up within the first records; later ones are drawn for rarer terms.
    """
    seen: Counter[str] = Counter()
    drawn: list[int] = []
    if size < 1:
        return drawn
    for position, terms in enumerate(records):
        if any(seen[term] < contexts for term in terms):
            drawn.append(position)
            seen.update(terms)
            if len(drawn) >= size:
                break
    return drawn


class VocabularyFilter:
    """Which word occurrences are entities, and each word's tag, learned from a sample.

    ``fit`` reads ``(words, evidence)`` pairs; ``is_entity(prev, word, next)`` asks,
    from the most specific to the least, the context ``(prev, word, next)`` (seen at
    least twice), the surface form, the lowercase word and the capitalisation
    shape of the three, and answers whether at least ``share`` of those sampled
    occurrences were inside entities. An unseen shape is not an entity.
    """

    def __init__(self, share: float = 0.25) -> None:
        self.share = share

    def fit(self, documents: Iterable[tuple[Sequence[str], str]]) -> Self:
        """Learn from ``(words, evidence)`` pairs; see the module docstring for evidence."""
        names = ("contexts", "forms", "words", "shapes")
        seen: dict[str, Counter[object]] = {name: Counter() for name in names}
        inside: dict[str, Counter[object]] = {name: Counter() for name in names}
        tags: dict[str, Counter[str]] = {}
        n_documents = 0
        for words, evidence in documents:
            entries = evidence.split(" ") if words else []
            if len(entries) != len(words):
                logger.warning(
                    "evidence of %d entries for %d words skipped (changed tokenisation?)",
                    len(entries),
                    len(words),
                )
                continue
            n_documents += 1
            last = len(words) - 1
            for j, entry in enumerate(entries):
                if not entry:
                    continue
                word = words[j]
                prev = words[j - 1] if j else ""
                nxt = words[j + 1] if j < last else ""
                lower = word.lower()
                is_inside = entry.endswith(INSIDE)
                keys = (
                    (prev.lower(), word, nxt.lower()),
                    word,
                    lower,
                    (_shape(prev), _shape(word), _shape(nxt)),
                )
                for name, key in zip(names, keys, strict=True):
                    seen[name][key] += 1
                    if is_inside:
                        inside[name][key] += 1
                tag = entry.rstrip(INSIDE)
                if not is_inside and tag != NO_TAG:
                    tags.setdefault(lower, Counter())[tag] += 1

        def decide(name: str, minimum: int) -> dict[object, bool]:
            ins = inside[name]
            return {
                key: ins[key] >= self.share * n for key, n in seen[name].items() if n >= minimum
            }

        self.contexts_ = decide("contexts", MIN_CONTEXT_COUNT)
        self.forms_ = decide("forms", 1)
        self.words_ = decide("words", 1)
        self.shapes_ = decide("shapes", 1)
        # A word always (or never) inside entities in the sample gets that answer in every
        # context, so most lookups stop here.
        ins = inside["words"]
        self.settled_ = {
            word: bool(ins[word]) for word, n in seen["words"].items() if ins[word] in (0, n)
        }
        # Counter.most_common keeps first-seen order among ties: deterministic for one sample.
        self.tags_ = {word: counts.most_common(1)[0][0] for word, counts in tags.items()}
        self.n_documents_ = n_documents
        logger.debug(
            "entity filter from %d sampled records: %d of %d words are entities",
            n_documents,
            sum(self.words_.values()),
            len(self.words_),
        )
        return self

    def is_entity(self, prev: str, word: str, nxt: str) -> bool:
        """Whether ``word`` between ``prev`` and ``nxt`` (``""`` at a text edge) is an entity."""
        decision = self.settled_.get(word.lower())
        if decision is not None:
            return decision
        decision = self.contexts_.get((prev.lower(), word, nxt.lower()))
        if decision is None:
            decision = self.forms_.get(word)
            if decision is None:
                decision = self.words_.get(word.lower())
                if decision is None:
                    decision = self.shapes_.get((_shape(prev), _shape(word), _shape(nxt)), False)
        return decision

    def tag(self, lower: str) -> str:
        """The most common tag of ``lower`` outside entities in the sample, or ``""``."""
        return self.tags_.get(lower, "")
