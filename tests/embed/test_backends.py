"""Each backend returns float32 unit rows of its dim, and puts paraphrases together."""

from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from topicstrata.embed import (
    Embedder,
    MiniLMEmbedder,
    OnnxMiniLMEmbedder,
    StaticEmbedder,
    TfidfSvdEmbedder,
    onnx_minilm,
)
from topicstrata.errors import InputError, ModelError

SENTENCES = [
    "Renew the CRM licences for the 300-seat sales team.",
    "Extend the sales team's 300 CRM seat subscription for another year.",
    "Migrate the on-premise data warehouse to the cloud.",
    "",
    "x " * 600,  # longer than the 256-token limit: truncated, not an error
]
PARAPHRASE_A = "The customer wants to renew its CRM software licences."
PARAPHRASE_B = "Client plans to extend the subscription for their CRM licenses."
UNRELATED = "Migrate the factory's industrial robots to a new welding line."


def _check_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def _paraphrases_closer(embedder: Embedder) -> None:
    a, b, c = embedder.encode([PARAPHRASE_A, PARAPHRASE_B, UNRELATED])
    assert float(a @ b) > float(a @ c) + 0.1
    assert float(a @ b) > float(b @ c) + 0.1


def test_minilm_rows(minilm: MiniLMEmbedder) -> None:
    _check_rows(minilm.encode(SENTENCES, batch_size=2), len(SENTENCES), 384)
    _paraphrases_closer(minilm)


def test_minilm_matches_plain_sentence_transformers(minilm: MiniLMEmbedder) -> None:
    expected = minilm.model.encode(SENTENCES, normalize_embeddings=True)
    got = minilm.encode(SENTENCES, batch_size=2)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_onnx_matches_torch(minilm: MiniLMEmbedder, minilm_onnx: OnnxMiniLMEmbedder) -> None:
    texts = [*SENTENCES, PARAPHRASE_A, PARAPHRASE_B, UNRELATED]
    onnx_rows = minilm_onnx.encode(texts, batch_size=3)  # mixed lengths: padding in a batch
    _check_rows(onnx_rows, len(texts), 384)
    cosine = np.sum(onnx_rows * minilm.encode(texts), axis=1)
    assert cosine.min() > 0.999
    _paraphrases_closer(minilm_onnx)


def test_onnx_export_is_cached_and_reused(
    minilm_onnx: OnnxMiniLMEmbedder, session_cache: Path
) -> None:
    path = minilm_onnx.onnx_path
    assert path.is_file() and session_cache in path.parents
    stamp = path.stat().st_mtime_ns
    again = OnnxMiniLMEmbedder(cache_dir=session_cache)
    again.encode(["hello"])
    assert path.stat().st_mtime_ns == stamp
    assert again.version == minilm_onnx.version


def test_onnx_corrupt_export_is_redone(
    tmp_path: Path,
    minilm_onnx: OnnxMiniLMEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    embedder = OnnxMiniLMEmbedder(cache_dir=tmp_path)
    embedder.onnx_path.parent.mkdir(parents=True)
    embedder.onnx_path.write_bytes(b"not an onnx file")

    def copy_export(_src: object, dst: Path) -> Path:
        # Same bytes as a fresh export, without paying for torch tracing again.
        return Path(shutil.copy(minilm_onnx.onnx_path, dst))

    monkeypatch.setattr(onnx_minilm, "export_onnx", copy_export)
    with caplog.at_level(logging.WARNING, logger="topicstrata.embed"):
        rows = embedder.encode(["hello world"])
    assert "cannot open the exported ONNX model" in caplog.text
    np.testing.assert_allclose(rows, minilm_onnx.encode(["hello world"]), atol=1e-6)


def test_static_rows(tiny_static_dir: Path) -> None:
    embedder = StaticEmbedder(model_path=tiny_static_dir)
    _check_rows(embedder.encode(SENTENCES[:3]), 3, embedder.dim)
    assert embedder.version == StaticEmbedder(model_path=tiny_static_dir).version


def test_static_word_pooling_matches_model2vec(tiny_static_dir: Path) -> None:
    # The embedder tokenizes each distinct word once and pools in float32; model2vec's
    # own encode tokenizes whole texts. Same vectors, including the edge cases where
    # str.split and BERT's normalizer disagree, and texts cut at max_length tokens.
    embedder = StaticEmbedder(model_path=tiny_static_dir)
    texts = [
        *(s for s in SENTENCES if s.strip()),
        "Renew the CRM licences; renew the CRM licences!",
        "a\x1cb c\x0bd e\x85f g\u2028h i\xa0j k\u3000l",
        "Café naïve ÅNGSTRÖM 中文 [UNK] don't",
        "token " * 700,  # over 512 tokens: model2vec's truncation applies
    ]
    ours = embedder.encode(texts)
    model = embedder._model
    reference = model.encode(texts, show_progress_bar=False, use_multiprocessing=False)
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    np.testing.assert_allclose((ours * reference).sum(axis=1), 1.0, atol=1e-4)
    # A word-order change does not change a mean; a different word does.
    swapped = embedder.encode(["licences renew", "renew licences", "renew contracts"])
    np.testing.assert_allclose(swapped[0], swapped[1], atol=1e-6)
    assert float(swapped[1] @ swapped[2]) < 0.999


@pytest.mark.slow
def test_static_distills_once_and_is_semantic(tmp_path: Path) -> None:
    embedder = StaticEmbedder(cache_dir=tmp_path, pca_dims=64)
    # Not "": a text with no known token has no direction, so static gives a zero row.
    texts = [s for s in SENTENCES if s]
    _check_rows(embedder.encode(texts), len(texts), 64)
    _paraphrases_closer(embedder)
    stamp = (embedder.resolved_path / "model.safetensors").stat().st_mtime_ns
    again = StaticEmbedder(cache_dir=tmp_path, pca_dims=64)
    assert again.version == embedder.version
    assert (again.resolved_path / "model.safetensors").stat().st_mtime_ns == stamp


CORPUS = [
    f"{verb} the {thing} for the {team} team"
    for verb in ("renew", "migrate", "upgrade", "audit")
    for thing in ("crm licences", "data warehouse", "payroll system", "call centre")
    for team in ("sales", "finance", "support")
]


def test_tfidf_requires_fit_and_version_tracks_state(tmp_path: Path) -> None:
    embedder = TfidfSvdEmbedder(n_components=8)
    with pytest.raises(ModelError, match="fit"):
        embedder.encode(["renew"])
    with pytest.raises(ModelError):
        _ = embedder.version
    assert embedder.fit(CORPUS) is embedder
    _check_rows(embedder.encode(CORPUS[:5]), 5, 8)
    refit = TfidfSvdEmbedder(n_components=8).fit(CORPUS[:20])
    assert refit.version != embedder.version
    assert TfidfSvdEmbedder(n_components=8).fit(CORPUS).version == embedder.version

    path = embedder.save(tmp_path / "tfidf.joblib")
    loaded = TfidfSvdEmbedder.load(path)
    assert loaded.version == embedder.version
    np.testing.assert_allclose(loaded.encode(CORPUS[:5]), embedder.encode(CORPUS[:5]))


def test_tfidf_rejects_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError, match=r"bad\.joblib"):
        TfidfSvdEmbedder.load(bad)


def test_tfidf_is_a_sklearn_estimator() -> None:
    from sklearn.base import clone

    embedder = TfidfSvdEmbedder(n_components=4, random_state=3)
    assert clone(embedder).get_params() == embedder.get_params()
    assert embedder.fit_transform(CORPUS).shape == (len(CORPUS), 4)


def test_embedders_pickle_without_weights(minilm: MiniLMEmbedder) -> None:
    clone = pickle.loads(pickle.dumps(minilm))
    assert clone._model is None
    assert clone.version == minilm.version


def test_encode_rejects_bad_input(minilm: MiniLMEmbedder) -> None:
    with pytest.raises(InputError, match="single str"):
        minilm.encode("one text")
    with pytest.raises(InputError, match="text 1"):
        minilm.encode(["ok", None])  # type: ignore[list-item]
    assert minilm.encode([]).shape == (0, 384)


def test_progress_per_batch(minilm: MiniLMEmbedder) -> None:
    calls: list[tuple[str, int, int | None]] = []
    minilm.encode(list("abcde"), batch_size=2, progress=lambda *a: calls.append(a))
    assert calls == [("embed", 0, 5), ("embed", 2, 5), ("embed", 4, 5), ("embed", 5, 5)]
