"""One layer of the ensemble: reducer, BIRCH with a searched k, c-TF-IDF representation."""

from topicstrata.layers.cluster import KSearchResult, global_steps, scaled_threshold, search_k
from topicstrata.layers.model import LayerModel
from topicstrata.layers.reduce import IdentityReducer, SampledReducer, make_reducer
from topicstrata.layers.represent import TopicRepresentation

__all__ = [
    "IdentityReducer",
    "KSearchResult",
    "LayerModel",
    "SampledReducer",
    "TopicRepresentation",
    "global_steps",
    "make_reducer",
    "scaled_threshold",
    "search_k",
]
