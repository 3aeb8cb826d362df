"""The mapping file: the contract between the model and the people who review it.

``mapping.v<N>.yaml`` is written after layer N with the whole tree so far.
People edit labels, actions (keep, split, merge, drop, rename), notes and
phrase rules; the next layer and predict read it back. This package defines
the schema, generates mappings from topic summaries, reads and writes them
with line-numbered errors, and applies them to assignments. See
``docs/mapping.md`` for the file format.
"""

from __future__ import annotations

from topicstrata.mapping.generate import TopicSummary, generate_mapping
from topicstrata.mapping.labels import OUTLIER_LABEL, auto_label, default_label
from topicstrata.mapping.paths import (
    OUTLIER,
    describe_paths,
    is_outlier,
    is_valid_path,
    parent_path,
    path_level,
    path_sort_key,
)
from topicstrata.mapping.reader import load_mapping, loads_mapping
from topicstrata.mapping.resolve import MergeCycleError, Resolution, apply_mapping, resolve
from topicstrata.mapping.rules import apply_rules, compile_rule, match_rules, rule_regex
from topicstrata.mapping.schema import ACTIONS, Action, Mapping, Rule, TopicEntry
from topicstrata.mapping.validate import MappingProblem, mapping_problems, validate_mapping
from topicstrata.mapping.writer import dump_mapping, dumps_mapping

__all__ = [
    "ACTIONS",
    "OUTLIER",
    "OUTLIER_LABEL",
    "Action",
    "Mapping",
    "MappingProblem",
    "MergeCycleError",
    "Resolution",
    "Rule",
    "TopicEntry",
    "TopicSummary",
    "apply_mapping",
    "apply_rules",
    "auto_label",
    "compile_rule",
    "default_label",
    "describe_paths",
    "dump_mapping",
    "dumps_mapping",
    "generate_mapping",
    "is_outlier",
    "is_valid_path",
    "load_mapping",
    "loads_mapping",
    "mapping_problems",
    "match_rules",
    "parent_path",
    "path_level",
    "path_sort_key",
    "resolve",
    "rule_regex",
    "validate_mapping",
]
