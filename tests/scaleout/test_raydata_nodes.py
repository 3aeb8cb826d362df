"""Issue 15: on a cluster of two Ray nodes (Ray's own multi-node test harness on this
machine), the embed step's actor pool spreads over both nodes and both encode texts."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from _support.fanout_items import NodeEmbedder

ray = pytest.importorskip("ray", reason="the Ray executor needs `pip install 'topicstrata[ray]'`")

from ray.cluster_utils import Cluster  # noqa: E402

from topicstrata.pipeline.raydata import RayDataEncoder  # noqa: E402


@pytest.fixture(scope="module")
def two_nodes():
    # The nodes' workers import this test's helpers as an installed package would be.
    env = {"PYTHONPATH": os.pathsep.join(sys.path)}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "env_vars": env},
    )
    cluster.add_node(num_cpus=1, env_vars=env)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_the_embedding_actors_spread_over_the_nodes_and_share_the_chunks(two_nodes):
    chunks = [[f"text {c}-{i}" for i in range(300)] for c in range(8)]
    encoder = RayDataEncoder(address=two_nodes.address)
    got = list(encoder(NodeEmbedder(), chunks, 64))
    assert [len(g) for g in got] == [300] * 8
    nodes = {n["NodeID"][:6] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    encoded_on = {format(int(v), "06x") for v in np.concatenate(got).ravel()}
    # Every chunk's vectors name a live node, and both nodes encoded some of them (one
    # block in all, as before the chunks became blocks, left the second actor idle).
    assert encoded_on == nodes
