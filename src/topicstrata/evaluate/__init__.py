"""topicstrata.evaluate: scores for a topic tree and the benchmark corpora.

- :mod:`.metrics`: agreement with labels per level, diversity, stability,
  outlier share, and :func:`evaluate_assignments` (the ``strata evaluate`` JSON).
- :mod:`.coherence`: NPMI as gensim's ``c_npmi`` computes it.
- :mod:`.datasets`: loaders for 20 Newsgroups, Amazon, BBC News (OCTIS), BANKING77.
"""

from topicstrata.evaluate.coherence import npmi_coherence, npmi_per_topic
from topicstrata.evaluate.datasets import (
    OctisCorpus,
    load_20newsgroups,
    load_amazon,
    load_banking77,
    load_bbc_octis,
    load_octis,
    shared_data_root,
)
from topicstrata.evaluate.metrics import (
    cut_paths,
    evaluate_assignments,
    is_outlier_path,
    keyword_levels,
    level_agreement,
    outlier_share,
    stability,
    topic_diversity,
)

__all__ = [
    "OctisCorpus",
    "cut_paths",
    "evaluate_assignments",
    "is_outlier_path",
    "keyword_levels",
    "level_agreement",
    "load_20newsgroups",
    "load_amazon",
    "load_banking77",
    "load_bbc_octis",
    "load_octis",
    "npmi_coherence",
    "npmi_per_topic",
    "outlier_share",
    "shared_data_root",
    "stability",
    "topic_diversity",
]
