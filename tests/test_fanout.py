"""The fan-out protocol: every map returns {key: func(**kwargs)} in item order."""

from __future__ import annotations

import os

import pytest

from _support.fanout_items import fail_on, square_with_pid
from topicstrata.fanout import FanOut, LocalFanOut, available_cpus


def test_one_job_runs_in_this_process_in_item_order():
    items = {k: {"x": x} for k, x in zip("cab", (3, 1, 2), strict=True)}
    out = LocalFanOut(1).map(square_with_pid, items)
    assert list(out) == ["c", "a", "b"]
    assert {k: v[0] for k, v in out.items()} == {"c": 9, "a": 1, "b": 4}
    assert {v[1] for v in out.values()} == {os.getpid()}


def test_several_jobs_run_in_worker_processes_and_keep_item_order():
    # The first item is the slowest, so completion order differs from item order.
    items = {i: {"x": i, "delay": 0.6 if i == 0 else 0.0} for i in range(6)}
    fanout = LocalFanOut(2)
    finished = [key for key, _ in fanout.imap(square_with_pid, items)]
    assert sorted(finished) == list(range(6)) and finished[-1] == 0
    out = fanout(square_with_pid, items)  # a FanOut is a MapFn
    assert list(out) == list(range(6))
    assert [v[0] for v in out.values()] == [i * i for i in range(6)]
    assert os.getpid() not in {v[1] for v in out.values()}


def test_workers_never_exceed_items_and_minus_one_means_every_cpu():
    assert LocalFanOut(8).workers(3) == 3
    assert LocalFanOut(2).workers(0) == 1
    assert LocalFanOut(-1).workers(10_000) == available_cpus()


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_item_that_raises_raises_from_map(n_jobs):
    items = {i: {"x": i, "bad": 2} for i in range(4)}
    with pytest.raises(ValueError, match="item 2 is bad"):
        LocalFanOut(n_jobs).map(fail_on, items)


def test_a_new_executor_implements_imap_only():
    class Reversed(FanOut):
        def imap(self, func, items):
            for key in reversed(list(items)):
                yield key, func(**items[key])

    out = Reversed()(fail_on, {k: {"x": k, "bad": -1} for k in (5, 7, 9)})
    assert list(out.items()) == [(5, 5), (7, 7), (9, 9)]
