"""Text embeddings: backends behind one interface, and a content-hash cache.

``embed_texts(texts, get_embedder("minilm-onnx"))`` is the entry point; see
``docs/embeddings.md``.
"""

from __future__ import annotations

from topicstrata.embed.api import embed_texts, embedding_cache_dir
from topicstrata.embed.base import BaseEmbedder, Embedder, FittableEmbedder, l2_normalize
from topicstrata.embed.cache import EmbeddingCache, text_hash
from topicstrata.embed.minilm import MiniLMEmbedder
from topicstrata.embed.onnx_minilm import OnnxMiniLMEmbedder, export_onnx
from topicstrata.embed.registry import DEFAULT_EMBEDDER, available_embedders, get_embedder
from topicstrata.embed.sampled import SampledEmbedding, SamplingConfig, embed_sampled
from topicstrata.embed.static import StaticEmbedder, distill_static
from topicstrata.embed.student import StudentEmbedder
from topicstrata.embed.tfidf import TfidfSvdEmbedder

__all__ = [
    "DEFAULT_EMBEDDER",
    "BaseEmbedder",
    "Embedder",
    "EmbeddingCache",
    "FittableEmbedder",
    "MiniLMEmbedder",
    "OnnxMiniLMEmbedder",
    "SampledEmbedding",
    "SamplingConfig",
    "StaticEmbedder",
    "StudentEmbedder",
    "TfidfSvdEmbedder",
    "available_embedders",
    "distill_static",
    "embed_sampled",
    "embed_texts",
    "embedding_cache_dir",
    "export_onnx",
    "get_embedder",
    "l2_normalize",
    "text_hash",
]
