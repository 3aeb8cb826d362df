"""spaCy loading and the keyword view: lowercase lemmas without stop words,
punctuation, numbers or named entities, one space-joined string per text.

Full mode runs only tok2vec, tagger and ner (never the parser or sentence
splitter) and lemmatizes from the tags with :class:`RuleLemmatizer`; the
``attribute_ruler`` and ``lemmatizer`` components are loaded for their tables
but not run. With the record entity filter it runs them on every text
(:meth:`KeywordExtractor.extract`); with the vocabulary filter only on a sample
(:meth:`KeywordExtractor.read_sample`), and every text is split into ``\\w+``
runs filtered by what the sample taught (:meth:`KeywordExtractor.extract_filtered`).
Fast mode runs no spaCy component: it splits the text into ``\\w+`` runs and
lemmatizes each distinct word once without a tag.

Every kept token matches ``\\w+`` and is at least ``min_token_length`` long, so
scikit-learn's ``CountVectorizer()`` with its default token pattern reads the
string back as exactly these tokens (for ``min_token_length >= 2``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from topicstrata.errors import DependencyError
from topicstrata.preprocess.config import PreprocessConfig
from topicstrata.preprocess.vocabulary import VocabularyFilter, encode_entry

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = ["KeywordExtractor", "RuleLemmatizer", "load_pipeline", "split_words"]

logger = logging.getLogger(__name__)

#: Components each mode runs.
RUN_COMPONENTS = {"full": ("tok2vec", "tagger", "ner"), "fast": ()}
#: Loaded for their tables (tag map, lemma rules) but never run.
TABLE_COMPONENTS = ("attribute_ruler", "lemmatizer")

#: Longer texts are cut before spaCy (its default limit is 1,000,000 characters
#: and memory grows with length); their embed_text is kept whole.
MAX_CHARS = 100_000

_WORD_RE = re.compile(r"\w+")
_NOT_PLURAL = ("ss", "us", "is", "as", "os")

#: Lemmas spaCy's tables get wrong for business text ("data lake" -> "datum lake").
LEMMA_OVERRIDES = {
    "data": "data",
    "datum": "data",
    "media": "media",
    "analytics": "analytics",
    "sales": "sales",
}


def split_words(text: str) -> list[str]:
    """The ``\\w+`` runs of ``text`` (cut at ``MAX_CHARS``), case kept: the words the
    vocabulary filter decides on."""
    return _WORD_RE.findall(text[:MAX_CHARS])


def load_pipeline(config: PreprocessConfig) -> Language:
    """Load ``config.spacy_model`` with only the components ``config.mode`` needs.

    Components that are only read for their tables are loaded disabled, so
    ``nlp.pipe`` skips them.
    """
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - spaCy is a core dependency
        raise DependencyError("preprocessing needs spaCy: pip install 'spacy>=3.7,<4'") from exc
    run = RUN_COMPONENTS[config.mode]
    try:
        meta = spacy.util.get_model_meta(spacy.util.get_package_path(config.spacy_model))
        names = list(meta.get("components", []))
    except Exception:  # not an installed package (a path, or missing): let load decide
        names = []
    exclude = [name for name in names if name not in run and name not in TABLE_COMPONENTS]
    disable = [name for name in names if name in TABLE_COMPONENTS]
    try:
        nlp = spacy.load(config.spacy_model, exclude=exclude, disable=disable)
    except OSError as exc:
        raise DependencyError(
            f"spaCy model {config.spacy_model!r} is not installed; install it, or set "
            "PreprocessConfig.spacy_model to one that is."
        ) from exc
    if config.mode == "full" and "ner" not in nlp.pipe_names:
        logger.warning(
            "spaCy model %r has no 'ner' component; entity filtering is off.", config.spacy_model
        )
    logger.debug("loaded %s (%s mode): runs %s", config.spacy_model, config.mode, nlp.pipe_names)
    return nlp


def _is_base_form(pos: str, morph: dict[str, str]) -> bool:
    """spaCy's ``EnglishLemmatizer.is_base_form`` on a tag's POS and morphology."""
    if pos == "noun" and morph.get("Number") == "Sing":
        return True
    if pos == "verb" and morph.get("VerbForm") == "Inf":
        return True
    if pos == "verb" and (
        morph.get("VerbForm") == "Fin" and morph.get("Tense") == "Pres" and "Number" not in morph
    ):
        return True
    return morph.get("VerbForm") in ("Inf", "None") or morph.get("Degree") == "Pos"


class RuleLemmatizer:
    """spaCy's English rule lemmatizer, without running spaCy components.

    With a fine-grained tag (full mode) it reproduces spaCy's ``attribute_ruler``
    + ``lemmatizer`` for content words: tag -> POS and morphology from the
    attribute ruler's single-tag patterns, then the same base-form check and
    suffix rules. Those two components cost about a third of the model time in
    spaCy 3.8 (the ruler's Matcher runs ~180 patterns per token); a memoized
    table lookup costs nothing. Pronoun and auxiliary overrides are skipped:
    they are stop words here.

    Without a tag (fast mode) it guesses: regular noun plurals first
    ("contracts" -> "contract"), known nouns stay as they are ("meeting",
    "data"), then irregular nouns ("children" -> "child") and verbs
    ("renewing" -> "renew", "went" -> "go"), keeping the word when no rule
    yields a known form (unknown plurals in ``-s`` lose it: "apis" -> "api").
    """

    _POS = ("noun", "verb", "adj", "adv")

    def __init__(self, nlp: Language) -> None:
        tables: dict[str, Any] = {}
        if "lemmatizer" in nlp.component_names:
            lookups = nlp.get_pipe("lemmatizer").lookups  # type: ignore[attr-defined]
            for name in ("lemma_index", "lemma_exc", "lemma_rules"):
                tables[name] = lookups.get_table(name, {}) if lookups.has_table(name) else {}
        else:
            logger.warning("spaCy model has no lemmatizer tables; keywords keep word forms.")
        # spaCy's tables hold lists; sets make the membership tests O(1).
        index, exc, rules = (tables.get(n, {}) for n in ("lemma_index", "lemma_exc", "lemma_rules"))
        self._index = {pos: frozenset(index.get(pos, ())) for pos in self._POS}
        self._exc = {pos: dict(exc.get(pos, {})) for pos in self._POS}
        self._rules = {pos: [tuple(r) for r in rules.get(pos, [])] for pos in self._POS}
        # tag -> (lowercase universal POS, is a base form), from the attribute ruler.
        self._tags: dict[str, tuple[str, bool]] = {}
        if "attribute_ruler" in nlp.component_names:
            ruler: Any = nlp.get_pipe("attribute_ruler")
            for entry in ruler.patterns:
                patterns, attrs = entry["patterns"], entry["attrs"]
                if len(patterns) != 1 or len(patterns[0]) != 1 or set(patterns[0][0]) != {"TAG"}:
                    continue
                tag = patterns[0][0]["TAG"]
                if not isinstance(tag, str) or "POS" not in attrs:
                    continue
                morph = dict(
                    field.split("=", 1)
                    for field in str(attrs.get("MORPH", "")).split("|")
                    if "=" in field
                )
                pos = str(attrs["POS"]).lower()
                self._tags[tag] = (pos, _is_base_form(pos, morph))
        self._memo: dict[tuple[str, str], str] = {}

    def _rule_lemma(self, word: str, pos: str, *, exceptions: bool = True) -> str | None:
        """spaCy's ``Lemmatizer.rule_lemmatize`` for one POS; ``None`` if no known form."""
        index = self._index[pos]
        forms: list[str] = []
        for old, new in self._rules[pos]:
            if word.endswith(old):
                form = word[: len(word) - len(old)] + new
                if form and form in index:
                    forms.insert(0, form)
                elif form and not form.isalpha():
                    forms.append(form)
        if exceptions:
            for form in self._exc[pos].get(word, []):
                if form not in forms:
                    forms.insert(0, form)
        return str(forms[0]) if forms else None

    def _oov_guess(self, word: str, pos: str) -> str:
        for old, new in self._rules[pos]:
            if word.endswith(old) and len(word) > len(old):
                return word[: len(word) - len(old)] + new
        return word

    def _tagged(self, word: str, tag: str) -> str:
        pos, base = self._tags.get(tag, ("", False))
        if base or pos not in self._POS:
            return word
        return self._rule_lemma(word, pos) or self._oov_guess(word, pos)

    def _untagged(self, word: str) -> str:
        lemma = self._rule_lemma(word, "noun", exceptions=False)
        if lemma is not None:
            return lemma
        if word in self._index["noun"]:
            return word
        lemma = self._rule_lemma(word, "noun") or self._rule_lemma(word, "verb")
        if lemma is not None:
            return lemma
        # An unknown regular plural ("apis", "kpis"), as the tagged path would read it.
        if len(word) >= 4 and word.endswith("s") and not word.endswith(_NOT_PLURAL):
            return word[:-1]
        return word

    def __call__(self, word: str, tag: str = "") -> str:
        """The lemma of lowercase ``word``; ``tag`` is its fine-grained tag, if known."""
        key = (word, tag)
        lemma = self._memo.get(key)
        if lemma is None:
            lemma = LEMMA_OVERRIDES.get(word) or (
                self._tagged(word, tag) if tag else self._untagged(word)
            )
            self._memo[key] = lemma
        return lemma


class KeywordExtractor:
    """Turn cleaned texts into ``keyword_tokens`` strings with one loaded pipeline."""

    def __init__(self, config: PreprocessConfig, nlp: Language | None = None) -> None:
        from spacy.lang.en.lex_attrs import like_num

        self.config = config
        self.nlp = nlp if nlp is not None else load_pipeline(config)
        self._like_num = like_num
        self._stop_words = frozenset(self.nlp.Defaults.stop_words) | frozenset(
            config.extra_stop_words
        )
        self._entity_labels = frozenset(config.entity_labels)
        self._lemmatize = RuleLemmatizer(self.nlp)
        self._tagged = config.mode == "full" and "tagger" in self.nlp.pipe_names
        # (lowercase form, tag) -> kept parts; words repeat a lot, filters do not change.
        self._memo: dict[tuple[str, str], tuple[str, ...]] = {}

    def _keep(self, lower: str, tag: str) -> tuple[str, ...]:
        key = (lower, tag)
        parts = self._memo.get(key)
        if parts is None:
            if lower in self._stop_words:
                parts = ()
            else:
                parts = tuple(
                    part
                    for part in _WORD_RE.findall(self._lemmatize(lower, tag))
                    if len(part) >= self.config.min_token_length
                    and part not in self._stop_words
                    and any(c.isalpha() for c in part)
                    and not self._like_num(part)
                )
            self._memo[key] = parts
        return parts

    def extract(self, texts: Iterable[str]) -> Iterator[str]:
        """Yield one space-joined keyword string per input text, in order.

        Full mode runs spaCy on every text (the record entity filter).
        """
        capped = (text[:MAX_CHARS] for text in texts)
        keep = self._keep
        if self.config.mode == "fast":
            # Every kept part is a \w+ run of a lemma, so splitting the text into \w+ runs
            # up front keeps the same words as spaCy's tokenizer at ~5x its speed (the
            # tokenizer's cost is building a Token object per word).
            words = _WORD_RE.findall
            for text in capped:
                tokens: list[str] = []
                for word in words(text.lower()):
                    tokens.extend(keep(word, ""))
                yield " ".join(tokens)
            return
        for doc in self.nlp.pipe(capped, batch_size=self.config.batch_size):
            yield self._doc_keywords(doc)

    def _doc_keywords(self, doc: Doc) -> str:
        labels = self._entity_labels
        tagged = self._tagged
        keep = self._keep
        tokens: list[str] = []
        for token in doc:
            if token.ent_iob != 2 and token.ent_type_ in labels:
                continue
            tokens.extend(keep(token.lower_, token.tag_ if tagged else ""))
        return " ".join(tokens)

    def _doc_evidence(self, doc: Doc) -> str:
        """One entry per ``\\w+`` word of the doc's text; see ``vocabulary``'s docstring."""
        labels = self._entity_labels
        spans = [
            (t.idx, t.idx + len(t.text), t.tag_, t.ent_iob != 2 and t.ent_type_ in labels)
            for t in doc
        ]
        entries: list[str] = []
        k = 0
        for match in _WORD_RE.finditer(doc.text):
            start, end = match.span()
            while spans[k][1] <= start:  # a word never starts in whitespace, so a token holds it
                k += 1
            if not self._keep(match.group().lower(), ""):
                entries.append("")
                continue
            inside = False
            j = k
            while j < len(spans) and spans[j][0] < end:  # "e-mail" is one token, two words
                inside = inside or spans[j][3]
                j += 1
            entries.append(encode_entry(spans[k][2], inside))
        return " ".join(entries)

    def read_sample(self, texts: Iterable[str]) -> Iterator[tuple[str, str]]:
        """Run spaCy on sampled texts: yield ``(keyword_tokens, evidence)`` per text.

        ``keyword_tokens`` is the record filter's view of the text (sampled records
        keep it); ``evidence`` is what :class:`VocabularyFilter` learns from.
        """
        capped = (text[:MAX_CHARS] for text in texts)
        for doc in self.nlp.pipe(capped, batch_size=self.config.batch_size):
            yield self._doc_keywords(doc), self._doc_evidence(doc)

    def extract_filtered(self, texts: Iterable[str], words: VocabularyFilter) -> Iterator[str]:
        """Yield the keyword string of each text with entities and tags from ``words``.

        No spaCy component runs: the text is split into ``\\w+`` runs; a run is dropped
        when ``words`` calls it an entity in its context, else lemmatized with the tag
        ``words`` learned for it (none if the sample never saw it outside entities).
        """
        keep = self._keep
        tag = words.tag
        settled = words.settled_
        is_entity = words.is_entity
        kept: dict[str, tuple[str, ...]] = {}  # lowercase word -> its keyword parts
        for text in texts:
            runs = split_words(text)
            last = len(runs) - 1
            tokens: list[str] = []
            for j, word in enumerate(runs):
                lower = word.lower()
                parts = kept.get(lower)
                if parts is None:
                    parts = kept[lower] = keep(lower, tag(lower))
                if not parts:
                    continue
                entity = settled.get(lower)
                if entity is None:
                    entity = is_entity(
                        runs[j - 1] if j else "", word, runs[j + 1] if j < last else ""
                    )
                if not entity:
                    tokens.extend(parts)
            yield " ".join(tokens)
