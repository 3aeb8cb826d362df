"""Issue 15: preprocessing and embedding through Ray Data actor pools give what the local
path gives, row for row, and hand chunks back in order (a local 2-CPU Ray)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from _support.fanout_items import preprocess_in_a_step
from topicstrata.embed import TfidfSvdEmbedder
from topicstrata.embed.api import embed_texts
from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS
from topicstrata.preprocess import PreprocessConfig, preprocess
from topicstrata.synth import make_opportunities

ray = pytest.importorskip("ray", reason="the Ray executor needs `pip install 'topicstrata[ray]'`")

from topicstrata.pipeline.raydata import RayDataEncoder, RayDataWorkers  # noqa: E402

pytestmark = pytest.mark.usefixtures("local_ray")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    frame = make_opportunities(2_600, seed=3)
    return [" ".join(str(v) for v in row) for row in frame[list(OPPORTUNITY_TEXT_FIELDS)].values]


def test_preprocessing_on_ray_data_equals_the_local_views(texts, caplog):
    # Full mode with the vocabulary entity filter: three stages (spaCy's sample read, the
    # per-record views, the filtered views) each go through an actor pool; 2,600 distinct
    # texts pay for 2 actors (1,000 per worker in full mode).
    config = PreprocessConfig(mode="full", n_process=1)
    with caplog.at_level(logging.INFO, logger="topicstrata"):
        on_ray = preprocess(texts, config, workers=RayDataWorkers)
    assert "preprocessing on Ray Data: up to 2 actor(s)" in caplog.text
    local = preprocess(texts, config)
    assert on_ray.equals(local)


def test_a_small_input_stays_in_this_process(texts):
    workers = RayDataWorkers(PreprocessConfig(mode="fast"), n_texts=500)
    assert workers.n_workers == 0  # fast mode pays for a worker from 20,000 texts
    out = preprocess(texts[:500], PreprocessConfig(mode="fast"), workers=RayDataWorkers)
    assert out.equals(preprocess(texts[:500], PreprocessConfig(mode="fast")))


def test_embedding_on_ray_data_equals_local_chunk_for_chunk(texts):
    embedder = TfidfSvdEmbedder(n_components=32).fit(texts)
    # 2,600 texts are 3 chunks of the cache's 1,024: chunks must come back in order.
    on_ray = embed_texts(texts, embedder, use_cache=False, encode_chunks=RayDataEncoder())
    local = embed_texts(texts, embedder, use_cache=False)
    assert np.array_equal(on_ray, local)


def test_the_encoder_hands_back_each_chunk_whole_and_in_order():
    class Rows:
        """An embedder whose vector is the text's number: order is visible."""

        dim = 1

        def encode(self, batch, batch_size=64):
            return np.asarray([[float(t)] for t in batch], dtype=np.float32)

    chunks = [[str(i) for i in range(a, b)] for a, b in ((0, 700), (700, 1_500), (1_500, 1_501))]
    got = list(RayDataEncoder()(Rows(), chunks, 64))
    assert [len(g) for g in got] == [700, 800, 1]
    assert np.concatenate(got).ravel().tolist() == list(range(1_501))


def test_a_caller_that_stops_early_stops_the_ray_data_pump(texts):
    import threading
    import time

    workers = RayDataWorkers(PreprocessConfig(mode="full", n_process=1), n_texts=len(texts))
    assert workers.n_workers == 2
    chunks = [texts[i : i + 200] for i in range(0, len(texts), 200)]
    with workers:
        stream = workers.map("__call__", chunks)
        first_chunk, first_views = next(stream)
        stream.close()  # as the entity sample scan does once it has read enough
    assert list(first_chunk) == chunks[0] and len(first_views) == 200
    deadline = time.monotonic() + 30
    while any(t.name == "strata-ray-data" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the Ray Data pump thread never stopped"
        time.sleep(0.2)


def test_preprocessing_inside_a_step_task_holding_most_cpus_does_not_wait_forever(texts):
    # A step on a 2-CPU node holds 1.5 CPUs while it iterates over the actor pool: the
    # pool must run in the half CPU left (an all-to-all stage of 1-CPU tasks never did).
    task = ray.remote(preprocess_in_a_step).options(num_cpus=1.5)
    on_ray = ray.get(task.remote(texts), timeout=600)
    assert on_ray.equals(preprocess(texts, PreprocessConfig(mode="full", n_process=1)))
