"""Issue 15: on a cluster of two Ray nodes (Ray's own multi-node test harness on this
machine): steps run on the driver's node, next to the run's root, while their ``ctx.map``
items and the embed step's actor pool spread over both nodes."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from _support.fanout_items import Busy, NodeEmbedder, step_and_items_nodes

ray = pytest.importorskip("ray", reason="the Ray executor needs `pip install 'topicstrata[ray]'`")

from ray.cluster_utils import Cluster  # noqa: E402

from topicstrata.errors import PipelineError  # noqa: E402
from topicstrata.pipeline import Pipeline, ProcessingStep, Resources, run_pipeline  # noqa: E402
from topicstrata.pipeline.ray_executor import RayExecutor  # noqa: E402
from topicstrata.pipeline.raydata import RayDataEncoder  # noqa: E402


@pytest.fixture(scope="module")
def two_nodes():
    # The nodes' workers import this test's helpers as an installed package would be.
    env = {"PYTHONPATH": os.pathsep.join(sys.path)}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "env_vars": env},
    )
    # The second node is the larger: a step fitted to the largest node would go there.
    cluster.add_node(num_cpus=2, env_vars=env)
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


def test_a_step_runs_on_the_drivers_node_and_its_items_on_the_other(two_nodes, tmp_path):
    ray.init(address=two_nodes.address, ignore_reinit_error=True)
    driver = ray.get_runtime_context().get_node_id()
    # Half the driver's node busy: Ray's default placement would now prefer the idle node.
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    busy = (
        ray.remote(num_cpus=0.5)(Busy)
        .options(scheduling_strategy=NodeAffinitySchedulingStrategy(driver, soft=False))
        .remote()
    )
    ray.get(busy.ready.remote())
    step = ProcessingStep(
        "where", step_and_items_nodes, inputs={"n": 4}, resources=Resources(cpus=2)
    )
    result = run_pipeline(
        Pipeline("where", [], [step]),
        root=tmp_path,
        executor=RayExecutor(address=two_nodes.address),
        cache=False,
    )
    out = result.output("where")
    # On the driver's node (1 CPU), not the larger one, though it asked for 2 CPUs ...
    assert out["step"] == driver
    # ... and its items, Ray tasks of 1 CPU each, spread to the other node too (they
    # may also run on the driver's, whose CPU the step lends while it waits); the
    # step stored their results under the driver's root.
    assert sorted(v["item"] for v in out["items"].values()) == [0, 1, 2, 3]
    others = {n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != driver}
    assert others <= {v["node"] for v in out["items"].values()}
    ray.kill(busy)


def test_a_ray_client_driver_is_refused_for_steps():
    with pytest.raises(PipelineError, match="Ray Client driver"):
        RayExecutor(address="ray://head:10001")
