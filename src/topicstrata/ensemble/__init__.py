"""The sequential ensemble: layers of topic models, the topic tree, routing, save/load."""

from topicstrata.ensemble.config import EnsembleConfig, LayerConfig, RepresentationConfig, SplitRule
from topicstrata.ensemble.fit import cluster_group, describe_group
from topicstrata.ensemble.model import Ensemble, ReviewCallback
from topicstrata.ensemble.persist import load_ensemble, save_ensemble, verify_manifest
from topicstrata.ensemble.tree import TopicNode, TopicTree

__all__ = [
    "Ensemble",
    "EnsembleConfig",
    "LayerConfig",
    "RepresentationConfig",
    "ReviewCallback",
    "SplitRule",
    "TopicNode",
    "TopicTree",
    "cluster_group",
    "describe_group",
    "load_ensemble",
    "save_ensemble",
    "verify_manifest",
]
