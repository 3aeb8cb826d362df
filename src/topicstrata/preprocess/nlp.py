"""spaCy loading and the keyword view: lowercase lemmas, stop words, numbers and
named entities removed, one space-joined string per text.

Full mode loads only what the view needs (tok2vec, tagger, attribute_ruler,
lemmatizer, ner; never the parser or sentence splitter). Fast mode loads the
lemmatizer's lookup tables but runs only the tokenizer, and lemmatizes each
distinct word once without POS (see :class:`PosFreeLemmatizer`).

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

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["KeywordExtractor", "PosFreeLemmatizer", "load_pipeline"]

logger = logging.getLogger(__name__)

#: Components each mode runs; everything else in the package is excluded.
FULL_COMPONENTS = ("tok2vec", "tagger", "attribute_ruler", "lemmatizer", "ner")
FAST_COMPONENTS = ("lemmatizer",)  # loaded for its lookup tables, never run

#: Longer texts are cut before spaCy (its default limit is 1,000,000 characters
#: and memory grows with length); their embed_text is kept whole.
MAX_CHARS = 100_000

_WORD_RE = re.compile(r"\w+")


def load_pipeline(config: PreprocessConfig) -> Language:
    """Load ``config.spacy_model`` with only the components ``config.mode`` needs."""
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - spaCy is a core dependency
        raise DependencyError("preprocessing needs spaCy: pip install 'spacy>=3.7,<4'") from exc
    keep = FULL_COMPONENTS if config.mode == "full" else FAST_COMPONENTS
    try:
        names = spacy.util.get_model_meta(spacy.util.get_package_path(config.spacy_model))[
            "components"
        ]
    except Exception:  # not an installed package (a path, or missing): let load decide
        names = []
    exclude = [name for name in names if name not in keep]
    try:
        nlp = spacy.load(config.spacy_model, exclude=exclude)
    except OSError as exc:
        raise DependencyError(
            f"spaCy model {config.spacy_model!r} is not installed; install it, or set "
            "PreprocessConfig.spacy_model to one that is."
        ) from exc
    if config.mode == "full" and "ner" not in nlp.pipe_names:
        logger.warning(
            "spaCy model %r has no 'ner' component; entity filtering is off.", config.spacy_model
        )
    logger.debug("loaded %s (%s mode): %s", config.spacy_model, config.mode, nlp.pipe_names)
    return nlp


class PosFreeLemmatizer:
    """Lemmatize a word without its part of speech, from spaCy's English rule tables.

    Tries regular noun plurals first ("contracts" -> "contract"), keeps known
    nouns as they are ("meeting", "planning", "data"), then irregular nouns
    ("children" -> "child") and verbs ("renewing" -> "renew", "went" -> "go").
    Results are memoized per word, so the cost is one dict lookup per token
    after warm-up.
    """

    def __init__(self, nlp: Language) -> None:
        tables: dict[str, Any] = {}
        if "lemmatizer" in nlp.component_names:
            lookups = nlp.get_pipe("lemmatizer").lookups  # type: ignore[attr-defined]
            for name in ("lemma_index", "lemma_exc", "lemma_rules"):
                tables[name] = lookups.get_table(name, {}) if lookups.has_table(name) else {}
        else:
            logger.warning("no lemmatizer tables in the spaCy model; fast mode keeps word forms.")
        self._index = tables.get("lemma_index", {})
        self._exc = tables.get("lemma_exc", {})
        self._rules = tables.get("lemma_rules", {})
        self._memo: dict[str, str] = {}

    def _rule_lemma(
        self, word: str, pos: str, *, exceptions: bool = True, guess: bool = True
    ) -> str:
        """spaCy's ``EnglishLemmatizer.rule_lemmatize`` for one fixed POS.

        ``guess=False`` keeps the word when no rule yields a known form, rather
        than inventing one ("onboarding" -> "onboarde").
        """
        if exceptions:
            forms = self._exc.get(pos, {}).get(word, [])
            if forms:
                return str(forms[0])
        index = self._index.get(pos, {})
        oov = None
        for old, new in self._rules.get(pos, []):
            if word.endswith(old):
                form = word[: len(word) - len(old)] + new
                if not form:
                    continue
                if form in index or not form.isalpha():
                    return str(form)
                oov = oov or form
        return word if oov is None or not guess else str(oov)

    def __call__(self, word: str) -> str:
        lemma = self._memo.get(word)
        if lemma is None:
            # Regular plurals first; a known noun then stays as it is, so
            # "data" and "meeting" are not read as "datum" and "meet".
            lemma = self._rule_lemma(word, "noun", exceptions=False)
            if lemma == word and word not in self._index.get("noun", {}):
                lemma = self._rule_lemma(word, "noun")
                if lemma == word:
                    lemma = self._rule_lemma(word, "verb", guess=False)
            self._memo[word] = lemma
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
        self._lemmatizer = PosFreeLemmatizer(self.nlp) if config.mode == "fast" else None
        # (lowercase form, lemma) -> kept parts; words repeat a lot, filters do not change.
        self._memo: dict[tuple[str, str], tuple[str, ...]] = {}

    def _keep(self, lower: str, lemma: str) -> tuple[str, ...]:
        key = (lower, lemma)
        parts = self._memo.get(key)
        if parts is None:
            if lower in self._stop_words:
                parts = ()
            else:
                parts = tuple(
                    part
                    for part in _WORD_RE.findall(lemma.lower())
                    if len(part) >= self.config.min_token_length
                    and part not in self._stop_words
                    and any(c.isalpha() for c in part)
                    and not self._like_num(part)
                )
            self._memo[key] = parts
        return parts

    def extract(self, texts: Iterable[str]) -> Iterator[str]:
        """Yield one space-joined keyword string per input text, in order."""
        capped = (text[:MAX_CHARS] for text in texts)
        batch_size = self.config.batch_size
        if self._lemmatizer is not None:
            lemmatize = self._lemmatizer
            tokenizer: Any = self.nlp.tokenizer  # typed as a plain callable in spaCy
            for doc in tokenizer.pipe(capped, batch_size=batch_size):
                tokens: list[str] = []
                for token in doc:
                    lower = token.lower_
                    tokens.extend(self._keep(lower, lemmatize(lower)))
                yield " ".join(tokens)
            return
        labels = self._entity_labels
        for doc in self.nlp.pipe(capped, batch_size=batch_size):
            tokens = []
            for token in doc:
                if token.ent_iob != 2 and token.ent_type_ in labels:
                    continue
                tokens.extend(self._keep(token.lower_, token.lemma_))
            yield " ".join(tokens)
