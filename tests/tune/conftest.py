"""Cheap tuning data: synthetic opportunities, TF-IDF/SVD embeddings, PCA layers."""

from __future__ import annotations

import re

import numpy as np
import pytest

from topicstrata.config import StrataConfig
from topicstrata.embed import TfidfSvdEmbedder
from topicstrata.synth import make_opportunities
from topicstrata.tune import SearchSpace, TuneData
from tune._data import BASE, SPACE, record_texts


@pytest.fixture(scope="session")
def base_config() -> StrataConfig:
    return StrataConfig.from_dict(BASE)


@pytest.fixture(scope="session")
def space() -> SearchSpace:
    return SearchSpace.model_validate(SPACE)


@pytest.fixture(scope="session")
def tune_data() -> TuneData:
    """300 records, precomputed 'tfidf-svd' and a noise 'static' backend."""
    frame = make_opportunities(300, seed=0)
    texts = record_texts(frame)
    keywords = [" ".join(re.findall(r"[a-z]{3,}", t.lower())) for t in texts]
    good = TfidfSvdEmbedder(n_components=32).fit(texts).encode(texts)
    noise = np.random.default_rng(0).normal(size=good.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return TuneData(
        ids=frame["id"].astype(str).tolist(),
        embed_texts=texts,
        keyword_texts=keywords,
        labels={"true_l1": frame["true_l1"].astype(str).tolist()},
        embeddings={"tfidf-svd": good, "static": noise},
    )
