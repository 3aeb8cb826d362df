"""Synthetic CRM opportunities with a known three-level use-case truth.

``generate_opportunities`` yields seeded Arrow record batches;
``write_opportunities`` streams them to Parquet, CSV or JSON Lines (what
``strata synth`` runs); ``use_case_tree`` lists the truth the ``true_l1``,
``true_l2`` and ``true_l3`` columns are drawn from. See ``docs/synthetic.md``.
"""

from __future__ import annotations

from topicstrata.synth._generate import SCHEMA, generate_opportunities, make_opportunities
from topicstrata.synth._tree import use_case_tree
from topicstrata.synth._write import write_opportunities

__all__ = [
    "SCHEMA",
    "generate_opportunities",
    "make_opportunities",
    "use_case_tree",
    "write_opportunities",
]

for _name in __all__:
    _obj = globals()[_name]
    if callable(_obj) and hasattr(_obj, "__module__"):
        _obj.__module__ = __name__
del _name, _obj
