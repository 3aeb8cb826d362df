"""get_embedder: names, options and the errors users see."""

from __future__ import annotations

import pytest

from topicstrata.embed import (
    MiniLMEmbedder,
    OnnxMiniLMEmbedder,
    StaticEmbedder,
    TfidfSvdEmbedder,
    available_embedders,
    get_embedder,
)
from topicstrata.errors import ConfigError


def test_names() -> None:
    assert available_embedders() == ["minilm", "minilm-onnx", "static", "tfidf-svd"]
    assert isinstance(get_embedder("minilm"), MiniLMEmbedder)
    assert isinstance(get_embedder("minilm-onnx", num_threads=1), OnnxMiniLMEmbedder)
    assert isinstance(get_embedder("static", pca_dims=64), StaticEmbedder)
    tfidf = get_embedder("tfidf-svd", n_components=32)
    assert isinstance(tfidf, TfidfSvdEmbedder) and tfidf.n_components == 32


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"'bert'.*minilm, minilm-onnx, static, tfidf-svd"):
        get_embedder("bert")


def test_unknown_option_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"n_dims.*valid options.*n_components"):
        get_embedder("tfidf-svd", n_dims=3)
    assert issubclass(ConfigError, ValueError)


def test_constructing_is_cheap() -> None:
    embedder = get_embedder("minilm")
    assert embedder.dim == 384
    assert isinstance(embedder, MiniLMEmbedder) and embedder._model is None
    assert isinstance(get_embedder("tfidf-svd"), TfidfSvdEmbedder)
