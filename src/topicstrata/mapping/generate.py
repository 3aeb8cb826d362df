"""Build a mapping from the ensemble's topic summaries, keeping people's edits.

After each layer the ensemble hands one ``TopicSummary`` per topic of the
whole tree. Descriptions (keywords, phrases, size, flags) always come from
the summaries; what people decide (label, action, notes, rules) comes from the
previous mapping wherever the path still exists.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from topicstrata.errors import MappingError
from topicstrata.mapping.labels import default_label
from topicstrata.mapping.paths import is_valid_path, path_level, path_sort_key
from topicstrata.mapping.schema import Mapping, Rule, TopicEntry
from topicstrata.mapping.validate import validate_mapping

__all__ = ["TopicSummary", "generate_mapping"]

logger = logging.getLogger(__name__)

TOO_BROAD = "too_broad"


@dataclass
class TopicSummary:
    """What the ensemble knows about one topic after fitting a layer.

    ``flags`` are suggestions such as ``"too_broad: share 0.21 > 0.10"`` or
    ``"low_coherence"``; ``representative_ids`` are record ids that show the
    topic well (kept for the ensemble and the studio; not written to the file).
    """

    path: str
    level: int
    keywords: list[str]
    phrases: list[str]
    size: int
    flags: list[str] = field(default_factory=list)
    representative_ids: list[str] = field(default_factory=list)


def generate_mapping(
    summaries: Iterable[TopicSummary],
    version: int,
    layer: int,
    previous: Mapping | None = None,
    default_split: set[str] | None = None,
    *,
    generated_at: str | None = None,
    created_by: str | None = None,
) -> Mapping:
    """The mapping for the tree up to ``layer``, entries in tree order.

    For a path that ``previous`` lists, its action, merge target and notes are
    kept, and so is its label if a person edited it (it differs from the auto
    label of the previous keywords, or the action is ``rename``); otherwise the
    label is regenerated from the new keywords. Rules are carried over in order.

    A path new in this mapping gets ``split`` if it is in ``default_split``,
    else ``keep``. ``default_split=None`` means "the topics flagged too broad"
    (a flag starting with ``too_broad``); pass an empty set to split nothing.

    Carried edits that no longer fit the tree are undone with a warning: a
    merge whose target is gone or dropped becomes ``keep`` (with a
    ``stale_merge`` flag), and a rule whose topic is gone is removed.
    """
    ordered = sorted(summaries, key=lambda s: path_sort_key(s.path))
    _check_summaries(ordered, layer)
    before = previous.by_path() if previous is not None else {}
    if default_split is None:
        default_split = {s.path for s in ordered if any(f.startswith(TOO_BROAD) for f in s.flags)}

    entries = [_entry(s, before.get(s.path), default_split) for s in ordered]
    _undo_stale_merges(entries)
    paths = {e.path for e in entries}
    dropped = {e.path for e in entries if e.action == "drop"}
    rules: list[Rule] = []
    for rule in previous.rules if previous is not None else []:
        if rule.path in paths and rule.path not in dropped:
            rules.append(rule.model_copy(deep=True))
        else:
            logger.warning(
                "removing rule %r: its topic %s is no longer in the tree", rule.pattern, rule.path
            )
    mapping = Mapping(
        version=version,
        layer=layer,
        generated_at=generated_at,
        created_by=created_by,
        topics=entries,
        rules=rules,
    )
    validate_mapping(mapping, source=f"mapping v{version} (generated)")
    return mapping


def _check_summaries(summaries: list[TopicSummary], layer: int) -> None:
    seen: set[str] = set()
    for s in summaries:
        if not is_valid_path(s.path):
            raise MappingError(f"topic summary path {s.path!r} is not a topic path like '7.2'")
        if s.level != path_level(s.path):
            raise MappingError(
                f"topic summary {s.path} says level {s.level}, but its path is at level "
                f"{path_level(s.path)}"
            )
        if s.level > layer:
            raise MappingError(f"topic summary {s.path} is deeper than layer {layer}")
        if s.path in seen:
            raise MappingError(f"topic summary {s.path} is given twice")
        seen.add(s.path)


def _entry(summary: TopicSummary, before: TopicEntry | None, default_split: set[str]) -> TopicEntry:
    entry = TopicEntry(
        path=summary.path,
        label=default_label(summary.path, summary.keywords, summary.phrases),
        keywords=list(summary.keywords),
        phrases=list(summary.phrases),
        size=int(summary.size),
        flags=list(summary.flags),
    )
    if before is None:
        entry.action = "split" if summary.path in default_split else "keep"
        return entry
    old_auto = default_label(before.path, before.keywords, before.phrases)
    if before.label and (before.label != old_auto or before.action == "rename"):
        entry.label = before.label
    entry.action = before.action
    entry.merge_into = before.merge_into
    entry.notes = before.notes
    return entry


def _undo_stale_merges(entries: list[TopicEntry]) -> None:
    by_path = {e.path: e for e in entries}
    for entry in entries:
        target = entry.merge_into
        if entry.action != "merge" or target is None:
            continue
        found = by_path.get(target)
        if found is not None and found.action != "drop" and found.level == entry.level:
            continue
        why = "no longer exists" if found is None else "is dropped or at another level"
        logger.warning("topic %s: merge target %s %s; set to keep", entry.path, target, why)
        entry.action = "keep"
        entry.merge_into = None
        entry.flags.append(f"stale_merge: target {target} {why}")
