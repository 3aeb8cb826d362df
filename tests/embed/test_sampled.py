"""The large-input path: a teacher embeds a sample, a fitted student the rest."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from topicstrata.embed import SamplingConfig, StudentEmbedder, embed_sampled, l2_normalize
from topicstrata.errors import InputError, ModelError


class BagTeacher:
    """A fake teacher with a known answer: the mean of fixed per-word vectors (linear in
    the words, so a linear student can learn it)."""

    name = "bag"
    version = "1"
    dim = 16

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).normal(size=self.dim)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress=None) -> np.ndarray:
        self.encoded.extend(texts)
        rows = [np.mean([self._word(w) for w in t.split()], axis=0) for t in texts]
        return l2_normalize(np.array(rows, dtype=np.float32))


def corpus(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(12)] for t in range(6)]
    return [" ".join(rng.choice(topics[rng.integers(6)], size=8)) for _ in range(n)]


def test_small_inputs_are_embedded_whole_by_the_teacher():
    texts = corpus(300)
    teacher = BagTeacher()
    result = embed_sampled(texts, teacher, SamplingConfig(min_rows=1000, teacher_rows=200))
    assert result.summary["path"] == "teacher"
    assert list(result.teacher_rows) == list(range(300))
    np.testing.assert_allclose(result.vectors, BagTeacher().encode(texts), atol=1e-6)


def test_large_inputs_embed_a_sample_with_the_teacher_and_the_rest_with_a_student():
    texts = corpus(3000) + corpus(500, seed=1)[:10]  # a few repeated texts too
    teacher = BagTeacher()
    config = SamplingConfig(min_rows=1000, teacher_rows=600, holdout=0.2, seed=3)
    result = embed_sampled(texts, teacher, config)
    unique = set(texts)
    assert len(set(teacher.encoded)) == 600  # the teacher saw the sample only
    assert result.summary["path"] == "teacher sample + student"
    assert result.summary["teacher_texts"] == 600
    assert result.summary["holdout_texts"] == 120
    seen = set(teacher.encoded)
    rows = result.teacher_rows
    # Teacher rows are exactly the rows whose text the teacher embedded, all copies included.
    assert {texts[i] for i in rows} == seen
    assert len(rows) == sum(t in seen for t in texts)
    truth = BagTeacher().encode(texts)
    np.testing.assert_allclose(result.vectors[rows], truth[rows], atol=1e-5)
    others = np.setdiff1d(np.arange(len(texts)), rows)
    cosine = np.sum(result.vectors[others] * truth[others], axis=1)
    assert cosine.mean() > 0.9  # the student imitates the teacher on unseen texts
    assert result.summary["holdout_cosine"] > 0.9
    held = result.holdout["rows"]
    assert len(held) == 120 and set(held) <= set(rows)
    assert len(unique) == result.summary["unique_texts"]


def test_student_vectors_are_written_per_row_in_chunks(monkeypatch):
    """Chunked, in-place writing gives every row its own text's student vector: copies of
    a text share it, whatever the chunk size."""
    import topicstrata.embed.sampled as sampled

    texts = corpus(2500) + corpus(2500)[:300]  # 300 texts twice, interleaved far apart
    config = SamplingConfig(min_rows=1000, teacher_rows=500, holdout=0.1, seed=5)
    whole = embed_sampled(texts, BagTeacher(), config)
    monkeypatch.setattr(sampled, "STUDENT_CHUNK", 37)
    chunked = embed_sampled(texts, BagTeacher(), config)
    np.testing.assert_array_equal(chunked.vectors, whole.vectors)
    np.testing.assert_array_equal(chunked.vectors[:300], chunked.vectors[2500:])
    others = np.setdiff1d(np.arange(len(texts)), chunked.teacher_rows)
    assert np.all(np.abs(np.linalg.norm(chunked.vectors[others], axis=1) - 1) < 1e-4)


def test_same_seed_same_sample_and_vectors():
    texts = corpus(2000)
    config = SamplingConfig(min_rows=500, teacher_rows=300)
    a = embed_sampled(texts, BagTeacher(), config)
    b = embed_sampled(texts, BagTeacher(), config)
    np.testing.assert_array_equal(a.teacher_rows, b.teacher_rows)
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_sampling_can_be_turned_off():
    texts = corpus(2000)
    result = embed_sampled(texts, BagTeacher(), SamplingConfig(enabled=False, min_rows=500))
    assert result.summary["path"] == "teacher"
    assert len(result.teacher_rows) == 2000


def test_student_needs_one_vector_per_text_and_a_fit():
    with pytest.raises(InputError, match="one teacher vector per text"):
        StudentEmbedder().fit(["a b", "c d"], np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ModelError, match="not fitted"):
        StudentEmbedder().encode(["a b"])


def test_teacher_sample_is_at_most_a_share_of_the_unique_texts():
    """Just above ``min_rows`` the teacher embeds ``teacher_share`` of the unique texts,
    on larger inputs ``teacher_rows``."""
    config = SamplingConfig(min_rows=1000, teacher_rows=600, teacher_share=0.25)
    small = embed_sampled(corpus(1600), BagTeacher(), config)
    assert small.summary["teacher_texts"] == 400
    large = embed_sampled(corpus(4000), BagTeacher(), config)
    assert large.summary["teacher_texts"] == 600


def test_from_cover_layer1_from_rows_the_teacher_embeds_layer_1s_sample():
    from topicstrata.sampling import seeded_rows

    texts = corpus(3000) + corpus(3000)[:40]  # copies of 40 texts at the end
    config = SamplingConfig(
        min_rows=1000, teacher_rows=300, holdout=0.1, cover_layer1_from=2000, layer1_sample=(900, 7)
    )
    teacher = BagTeacher()
    result = embed_sampled(texts, teacher, config)
    layer1 = seeded_rows(len(texts), 900, 7)
    wanted = {texts[i] for i in layer1}
    assert set(teacher.encoded) == wanted  # those texts, not a teacher_rows sample of 300
    assert result.summary["covers_layer1_sample"] is True
    assert result.summary["teacher_texts"] == len(wanted)
    assert set(layer1) <= set(result.teacher_rows)
    truth = BagTeacher().encode(texts)
    np.testing.assert_allclose(result.vectors[layer1], truth[layer1], atol=1e-5)
    # Below cover_layer1_from rows, or without a layer-1 sample, the usual sample.
    for small in (
        config.model_copy(update={"cover_layer1_from": 10_000}),
        config.model_copy(update={"layer1_sample": None}),
        config.model_copy(update={"cover_layer1_from": 0}),
    ):
        other = BagTeacher()
        summary = embed_sampled(texts, other, small).summary
        assert summary["teacher_texts"] == 300 and not summary["covers_layer1_sample"]
