"""``single_threaded_for``: one thread per numeric library for small batches, restored after."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch  # noqa: F401  (its OpenMP runtime is one of the pools)
from threadpoolctl import threadpool_info, threadpool_limits

from topicstrata.threads import SMALL_BATCH_ROWS, single_threaded_for


def _threads() -> dict[str, int]:
    counts = {f"{i['user_api']}:{i['filepath']}": i["num_threads"] for i in threadpool_info()}
    counts["numba"] = numba.get_num_threads()
    assert any(key.startswith("openmp:") for key in counts), counts  # torch's runtime is seen
    return counts


@pytest.fixture
def two_threads():
    """Every pool at 2 threads (the CI machine's cores), whatever the environment set."""
    with threadpool_limits(limits=2):
        before = numba.get_num_threads()
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        try:
            yield
        finally:
            numba.set_num_threads(before)


def test_small_batch_runs_every_pool_on_one_thread_and_restores_them(two_threads):
    np.ones((4, 4)) @ np.ones((4, 4))  # BLAS loaded
    before = _threads()
    if max(before.values()) < 2:
        pytest.skip("this machine gives the libraries one thread only; nothing to lower")
    with single_threaded_for(1):
        inside = _threads()
    assert set(inside.values()) == {1}, inside
    assert _threads() == before


def test_large_batch_leaves_the_pools_alone(two_threads):
    before = _threads()
    with single_threaded_for(SMALL_BATCH_ROWS + 1):
        assert _threads() == before


def test_pools_are_restored_when_the_block_raises(two_threads):
    before = _threads()
    with pytest.raises(RuntimeError), single_threaded_for(1):
        raise RuntimeError("boom")
    assert _threads() == before
