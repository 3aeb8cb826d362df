"""``tfidf-svd``: TF-IDF + truncated SVD (LSA); no neural model, fitted on a corpus."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from topicstrata.embed.base import BaseEmbedder, _check_texts, l2_normalize
from topicstrata.errors import InputError, ModelError

logger = logging.getLogger(__name__)

__all__ = ["TfidfSvdEmbedder"]


class TfidfSvdEmbedder(BaseEmbedder, TransformerMixin, BaseEstimator):
    """Latent semantic vectors: TF-IDF over words (and ``ngram_range``), reduced by SVD.

    A scikit-learn estimator: ``fit(texts)`` learns the vocabulary and the SVD basis and
    returns ``self``; ``encode``/``transform`` map texts to unit rows. ``version`` is a hash
    of the fitted state, so embeddings cached for one fit are never served for another.
    Texts with no known term map to all-zero rows (no direction to normalize).
    """

    name = "tfidf-svd"

    def __init__(
        self,
        n_components: int = 256,
        max_features: int | None = 100_000,
        min_df: int | float = 2,
        max_df: float = 0.95,
        ngram_range: tuple[int, int] = (1, 2),
        sublinear_tf: bool = True,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.max_features = max_features
        self.min_df = min_df
        self.max_df = max_df
        self.ngram_range = ngram_range
        self.sublinear_tf = sublinear_tf
        self.random_state = random_state

    def fit(self, texts: Sequence[str], y: None = None) -> Self:
        docs = _check_texts(texts)
        if len(docs) < 2:
            raise InputError(f"tfidf-svd needs at least 2 texts to fit, got {len(docs)}.")
        vectorizer = TfidfVectorizer(
            max_features=self.max_features,
            min_df=self.min_df if len(docs) >= 10 else 1,
            max_df=self.max_df if len(docs) >= 10 else 1.0,
            ngram_range=self.ngram_range,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float32,
        )
        try:
            tfidf = vectorizer.fit_transform(docs)
        except ValueError as exc:  # empty vocabulary
            raise InputError(f"tfidf-svd cannot fit: {exc}") from exc
        n_components = min(self.n_components, tfidf.shape[1] - 1, len(docs) - 1)
        if n_components < 1:
            raise InputError(
                f"tfidf-svd found {tfidf.shape[1]} terms in {len(docs)} texts; "
                "fit it on a larger corpus."
            )
        if n_components < self.n_components:
            logger.warning(
                "tfidf-svd: n_components=%d lowered to %d (%d texts, %d terms)",
                self.n_components,
                n_components,
                len(docs),
                tfidf.shape[1],
            )
        svd = TruncatedSVD(n_components=n_components, random_state=self.random_state)
        svd.fit(tfidf)
        self.vectorizer_ = vectorizer
        self.svd_ = svd
        self.fingerprint_ = _fingerprint(vectorizer, svd)
        return self

    def transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self.encode(texts)

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "fingerprint_")

    @property
    def version(self) -> str:
        self._prepare()
        return str(self.fingerprint_)

    @property
    def dim(self) -> int:
        if self.is_fitted:
            return int(self.svd_.components_.shape[0])
        return self.n_components

    def _prepare(self) -> None:
        if not self.is_fitted:
            raise ModelError(
                "the tfidf-svd embedder is not fitted; call .fit(texts) on the corpus first "
                "(or load a fitted one with TfidfSvdEmbedder.load(path))."
            )
        check_is_fitted(self, "fingerprint_")

    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        return l2_normalize(self.svd_.transform(self.vectorizer_.transform(texts)))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted embedder with joblib (atomically) for later prediction."""
        import joblib

        self._prepare()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        joblib.dump(self, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TfidfSvdEmbedder:
        """Read an embedder written by ``save``; checks its fitted state is intact."""
        import joblib

        try:
            obj: Any = joblib.load(Path(path))
        except Exception as exc:  # joblib/pickle raise many types on a bad file
            raise ModelError(f"cannot load a tfidf-svd embedder from {path}: {exc}") from exc
        if not isinstance(obj, cls) or not obj.is_fitted:
            raise ModelError(f"{path} does not hold a fitted tfidf-svd embedder.")
        if _fingerprint(obj.vectorizer_, obj.svd_) != obj.fingerprint_:
            raise ModelError(f"{path}: fitted state does not match its fingerprint; refit it.")
        return obj

    def __repr__(self) -> str:
        return BaseEstimator.__repr__(self)


def _fingerprint(vectorizer: TfidfVectorizer, svd: TruncatedSVD) -> str:
    digest = hashlib.sha256()
    digest.update(repr(sorted(vectorizer.get_params().items())).encode())
    for term, column in sorted(vectorizer.vocabulary_.items()):
        digest.update(f"{term}\0{column}\n".encode())
    digest.update(np.ascontiguousarray(vectorizer.idf_, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(svd.components_, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]
