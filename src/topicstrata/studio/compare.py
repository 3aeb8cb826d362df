"""Compare two runs, or two mapping versions of one run: topic changes and records moved.

Both comparisons give a :class:`Comparison`: the flows (records from a topic of A
to a topic of B), the topic changes and their counts, so one page, one Sankey
and one CSV show either.

**Two runs** (:func:`compare_runs`) join their assignments on ``id`` and
crosstab one level's paths. Records only one run has are counted (flows to or
from ``(not in run B)`` / ``(not in run A)``), never dropped; the shares below
are over the records both runs have. For a topic ``a`` of A and ``b`` of B,
``out(a, b)`` is the share of ``a``'s records that land in ``b`` and ``in(a, b)``
the share of ``b``'s records that come from ``a``. "Mostly" means **strictly
more than half** (:data:`MAJORITY`), so a topic has at most one majority
counterpart and no tie needs breaking. Each topic of A gets the first kind
that applies:

1. **split**: two or more topics of B each mostly come from ``a`` and each take
   at least :data:`SPLIT_PART` (20%) of ``a``'s records; they are its pieces.
2. **merged**: ``a`` mostly goes to ``b``, and ``b`` also takes the majority of
   another (not split) topic of A, or ``b`` does not mostly come from ``a``.
   One row lists every topic merged into ``b``.
3. **same**: ``a`` mostly goes to ``b`` and ``b`` mostly comes from ``a`` (and no
   other topic of A mostly goes to ``b``); **renamed** when the labels differ.
4. **removed**: no topic of B takes most of ``a``'s records.

A topic of B that is nobody's counterpart (not a same, merge target or split
piece) is **added**. ``moved`` counts the records both runs have that do not
go from a topic to its same/renamed counterpart. Aggregation is one
factorize, one join on ``id`` and one group-by over integer codes; Python
loops run over topics, never over records.

**Two mapping versions** (:func:`compare_mappings`) compare entries by path:
label changed (renamed), action changed (merged, dropped, split, kept: back
to keep/rename), entries added or removed; rules are compared by
``(pattern, regex)``. Records moved need no assignments: each path's own
records (its ``size`` less its listed children's sizes) go from the path's
final path under A's resolution to its final path under B's. The sizes are
read from the version that lists more topics (A on a tie), so that one file's
deeper entries are not counted twice. Rule changes are listed, not counted:
which records a rule takes depends on their texts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import NDArray

from topicstrata.mapping import (
    OUTLIER,
    OUTLIER_LABEL,
    Mapping,
    Resolution,
    Rule,
    TopicEntry,
    default_label,
    is_outlier,
    parent_path,
    path_sort_key,
    resolve,
)
from topicstrata.studio.errors import StudioError

__all__ = [
    "CHANGE_COLUMNS",
    "FLOW_COLUMNS",
    "MAJORITY",
    "SANKEY_LINKS",
    "SPLIT_PART",
    "Comparison",
    "compare_mappings",
    "compare_runs",
    "sankey_figure",
]

logger = logging.getLogger(__name__)

#: A topic mostly goes to / comes from another when the share is strictly above this.
MAJORITY = 0.5
#: Each piece of a split takes at least this share of the A topic's records.
SPLIT_PART = 0.2
#: Links the Sankey draws; smaller flows are summed into one "other flows" link.
SANKEY_LINKS = 60

FLOW_COLUMNS = ["from_path", "from_label", "to_path", "to_label", "records"]
CHANGE_COLUMNS = ["kind", "a_paths", "a_labels", "b_paths", "b_labels", "records", "detail"]
RUN_KINDS = ("same", "renamed", "merged", "split", "removed", "added")
MAPPING_KINDS = ("same", "renamed", "merged", "dropped", "split", "kept", "added", "removed")
RULE_COLUMNS = ["change", "pattern", "regex", "path_a", "path_b", "label_a", "label_b"]
NOT_IN_A = "(not in run A)"
NOT_IN_B = "(not in run B)"


@dataclass(frozen=True)
class Comparison:
    """What changed from A to B.

    ``flows``: one row per (from topic, to topic) with records, largest first
    (``FLOW_COLUMNS``; an empty path with label ``(not in run A/B)`` for records
    one side lacks). ``changes``: one row per change (``CHANGE_COLUMNS``; paths
    and labels are lists). ``counts``: topics per kind (``kinds`` in order).
    """

    flows: pd.DataFrame
    changes: pd.DataFrame
    counts: dict[str, int]
    records_a: int
    records_b: int
    only_a: int
    only_b: int
    moved: int
    topics_a: int
    topics_b: int
    kinds: tuple[str, ...]
    rules: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RULE_COLUMNS))

    @property
    def records(self) -> int:
        """Records either side has: the flows' total."""
        return int(self.flows["records"].sum())


def _sorted_paths(paths: Iterable[str]) -> list[str]:
    return sorted(paths, key=lambda p: (path_sort_key(p), p))


def _label(labels: MappingABC[str, str], path: str) -> str:
    if path in labels:
        return labels[path]
    return OUTLIER_LABEL if is_outlier(path) else path


def _check_unique(ids: NDArray[Any], name: str) -> None:
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        raise StudioError(
            422,
            f"{name} has duplicate record ids",
            f"{int(dup.sum())} ids appear more than once (first: {ids[dup][0]!r}), so its "
            "records cannot be matched to the other run's; compare runs whose ids are unique.",
        )


def _record_rows(
    ids_a: NDArray[Any], ids_b: NDArray[Any], names: tuple[str, str]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row in A and row in B (-1: not there) of every record either run has.

    Ids are matched by their 64-bit hash first (factorizing integers is several
    times faster than factorizing a million strings); the matched pairs are then
    compared as ids, and on the rare collision the exact, slower factorize is used.
    """
    n_a = len(ids_a)
    all_ids = np.concatenate([ids_a, ids_b])
    for exact in (False, True):
        keys = all_ids if exact else pd.util.hash_array(all_ids, categorize=False)
        codes, uniques = pd.factorize(keys)
        code_a, code_b = codes[:n_a], codes[n_a:]
        # codes number first appearances, so A's ids are unique iff they take n_a codes
        unique_a = n_a == 0 or int(code_a.max()) == n_a - 1
        unique_b = len(code_b) == 0 or int(np.bincount(code_b).max()) <= 1
        if not (unique_a and unique_b):
            _check_unique(ids_a, names[0])
            _check_unique(ids_b, names[1])
            continue  # a hash collision: the ids are unique after all
        row_a = np.full(len(uniques), -1, dtype=np.intp)
        row_b = np.full(len(uniques), -1, dtype=np.intp)
        row_a[code_a] = np.arange(n_a)
        row_b[code_b] = np.arange(len(code_b))
        matched = (row_a >= 0) & (row_b >= 0)
        if exact or np.array_equal(ids_a[row_a[matched]], ids_b[row_b[matched]]):
            return row_a, row_b
        logger.info("two record ids of %s and %s share a hash; matching them exactly", *names)
    raise AssertionError("unreachable: the exact pass returns")


def _pair_counts(
    a: pd.DataFrame, b: pd.DataFrame, column: str, names: tuple[str, str]
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Records per (A topic code, B topic code); code -1: the record is not in that run."""
    topic_a, topics_a = pd.factorize(a[column], use_na_sentinel=False)
    topic_b, topics_b = pd.factorize(b[column], use_na_sentinel=False)
    if a["id"].array.equals(b["id"].array):
        # the same records in the same order (a refit of one input): rows pair up
        left, right = topic_a.astype(np.int64), topic_b.astype(np.int64)
    else:
        ids_a, ids_b = a["id"].to_numpy(), b["id"].to_numpy()
        row_a, row_b = _record_rows(ids_a, ids_b, names)
        left = np.where(row_a >= 0, topic_a[row_a], -1).astype(np.int64)
        right = np.where(row_b >= 0, topic_b[row_b], -1).astype(np.int64)
    width = len(topics_b) + 1
    counts = np.bincount((left + 1) * width + (right + 1), minlength=(len(topics_a) + 1) * width)
    keys = np.flatnonzero(counts)
    pairs = pd.DataFrame({"a": keys // width - 1, "b": keys % width - 1, "n": counts[keys]})
    return pairs, _path_texts(topics_a), _path_texts(topics_b)


def _path_texts(uniques: Any) -> list[str]:
    """Paths as text; a missing path is an outlier, as ``apply_mapping`` treats it."""
    return [OUTLIER if pd.isna(u) else str(u) for u in uniques]


def compare_runs(
    a: pd.DataFrame,
    b: pd.DataFrame,
    column: str,
    labels_a: MappingABC[str, str],
    labels_b: MappingABC[str, str],
    names: tuple[str, str] = ("run A", "run B"),
) -> Comparison:
    """Compare two runs' assignments (``id``, ``column``) at one level; rule in the module doc."""
    codes, topics_a, topics_b = _pair_counts(a, b, column, names)
    path_a = np.array([*topics_a, ""], dtype=object)  # code -1 indexes the trailing ""
    path_b = np.array([*topics_b, ""], dtype=object)
    pairs = codes.assign(a=path_a[codes["a"].to_numpy()], b=path_b[codes["b"].to_numpy()])

    both = pairs[(pairs["a"] != "") & (pairs["b"] != "")].copy()
    both["out"] = both["n"] / both.groupby("a")["n"].transform("sum")
    both["in"] = both["n"] / both.groupby("b")["n"].transform("sum")
    major = dict(zip(*_cols(both[both["out"] > MAJORITY], "a", "b"), strict=True))
    source = dict(zip(*_cols(both[both["in"] > MAJORITY], "b", "a"), strict=True))
    pieces_frame = both[(both["in"] > MAJORITY) & (both["out"] >= SPLIT_PART)]
    pieces = {
        str(k): _sorted_paths(list(v))
        for k, v in pieces_frame.groupby("a")["b"].agg(list).items()
        if len(v) >= 2
    }
    size_a = pairs[pairs["a"] != ""].groupby("a")["n"].sum()
    size_b = pairs[pairs["b"] != ""].groupby("b")["n"].sum()
    indexed = both.set_index(["a", "b"])
    flow, out = indexed["n"], indexed["out"]
    largest_to, largest_from = _best(both, "a"), _best(both, "b")

    into: dict[str, list[str]] = {}
    for t in _sorted_paths(major):
        if t not in pieces:
            into.setdefault(major[t], []).append(t)

    rows: list[dict[str, object]] = []
    counts = dict.fromkeys(RUN_KINDS, 0)
    claimed: set[str] = set()
    merged_rows: set[str] = set()
    kept = 0
    for t in _sorted_paths(topics_a):
        n_a = int(size_a[t])
        if t in pieces:
            parts = pieces[t]
            claimed.update(parts)
            counts["split"] += 1
            detail = ", ".join(f"{p}: {out[(t, p)]:.0%}" for p in parts)
            rows.append(_change("split", [t], parts, labels_a, labels_b, n_a, detail))
            continue
        target = major.get(t)
        if target is None:
            counts["removed"] += 1
            detail = largest_to.get(t, "no record of it is in run B")
            rows.append(_change("removed", [t], [], labels_a, labels_b, n_a, detail))
            continue
        group = into[target]
        if len(group) == 1 and source.get(target) == t:
            kind = "same" if _label(labels_a, t) == _label(labels_b, target) else "renamed"
            counts[kind] += 1
            kept += int(flow[(t, target)])
            detail = f"{out[(t, target)]:.0%} of its records"
            rows.append(_change(kind, [t], [target], labels_a, labels_b, n_a, detail))
            continue
        counts["merged"] += 1
        if target in merged_rows:
            continue
        merged_rows.add(target)
        records = int(sum(size_a[s] for s in group))
        detail = ", ".join(f"{s}: {out[(s, target)]:.0%}" for s in group)
        rows.append(_change("merged", group, [target], labels_a, labels_b, records, detail))
    claimed.update(major.values())
    for t in _sorted_paths(topics_b):
        if t not in claimed:
            counts["added"] += 1
            n_b = int(size_b[t])
            detail = largest_from.get(t, "no record of it is in run A")
            rows.append(_change("added", [], [t], labels_a, labels_b, n_b, detail))

    matched = int(both["n"].sum())
    return Comparison(
        flows=_flow_frame(pairs, labels_a, labels_b),
        changes=pd.DataFrame(rows, columns=CHANGE_COLUMNS),
        counts=counts,
        records_a=len(a),
        records_b=len(b),
        only_a=int(pairs.loc[pairs["b"] == "", "n"].sum()),
        only_b=int(pairs.loc[pairs["a"] == "", "n"].sum()),
        moved=matched - kept,
        topics_a=len(topics_a),
        topics_b=len(topics_b),
        kinds=RUN_KINDS,
    )


def _cols(frame: pd.DataFrame, *names: str) -> list[list[str]]:
    return [frame[n].astype(str).tolist() for n in names]


def _best(both: pd.DataFrame, side: str) -> dict[str, str]:
    """For each topic of ``side``, where most of its shared records are, in words."""
    other = "b" if side == "a" else "a"
    share = "out" if side == "a" else "in"
    best = both.sort_values([side, "n", other], ascending=[True, False, True])
    best = best.drop_duplicates(side)
    arrow = "to" if side == "a" else "from"
    return {
        str(t): f"largest part: {s:.0%} {arrow} {o}"
        for t, s, o in zip(best[side], best[share], best[other], strict=True)
    }


def _change(
    kind: str,
    a_paths: list[str],
    b_paths: list[str],
    labels_a: MappingABC[str, str],
    labels_b: MappingABC[str, str],
    records: int,
    detail: str,
) -> dict[str, object]:
    return {
        "kind": kind,
        "a_paths": a_paths,
        "a_labels": [_label(labels_a, p) for p in a_paths],
        "b_paths": b_paths,
        "b_labels": [_label(labels_b, p) for p in b_paths],
        "records": records,
        "detail": detail,
    }


def _flow_frame(
    pairs: pd.DataFrame, labels_a: MappingABC[str, str], labels_b: MappingABC[str, str]
) -> pd.DataFrame:
    """Flows largest first, then in tree order of the from and to paths ("" last)."""
    frame = pairs[pairs["n"] > 0]
    columns: dict[str, Any] = {}
    ranks = []
    for side, labels, missing in (("a", labels_a, NOT_IN_A), ("b", labels_b, NOT_IN_B)):
        paths = frame[side].astype(str).to_numpy(dtype=object)
        # one sort key and one label per distinct path, not per flow
        distinct = sorted(set(paths.tolist()), key=lambda p: (p == "", path_sort_key(p), p))
        rank = {p: i for i, p in enumerate(distinct)}
        text = {p: _label(labels, p) if p else missing for p in distinct}
        ranks.append(np.array([rank[p] for p in paths], dtype=np.int64))
        columns[side] = (paths, np.array([text[p] for p in paths], dtype=object))
    records = frame["n"].to_numpy(np.int64)
    order = np.lexsort((ranks[1], ranks[0], -records))  # the last key sorts first
    return pd.DataFrame(
        {
            "from_path": columns["a"][0][order],
            "from_label": columns["a"][1][order],
            "to_path": columns["b"][0][order],
            "to_label": columns["b"][1][order],
            "records": records[order],
        },
        columns=FLOW_COLUMNS,
    )


# Mapping versions -------------------------------------------------------------------------


def _entry_label(entry: TopicEntry) -> str:
    return entry.label or default_label(entry.path, entry.keywords, entry.phrases)


def _action(entry: TopicEntry) -> str:
    if entry.action == "merge":
        return f"merge into {entry.merge_into}"
    # rename only records an intent: the label comparison shows the change itself
    return "keep" if entry.action == "rename" else entry.action


def _action_kind(before: TopicEntry, after: TopicEntry) -> str | None:
    if _action(before) == _action(after):
        return None
    return {"merge": "merged", "drop": "dropped", "split": "split"}.get(after.action, "kept")


def _own_sizes(mapping: Mapping) -> dict[str, int]:
    """Records at each listed path itself: its size less its listed children's sizes."""
    entries = mapping.by_path()
    below: dict[str, int] = {}
    for path, entry in entries.items():
        parent = parent_path(path)
        if parent is not None and parent in entries:
            below[parent] = below.get(parent, 0) + entry.size
    own = {}
    for path, entry in entries.items():
        n = entry.size - below.get(path, 0)
        if n < 0:
            logger.warning(
                "mapping v%s: topic %s has size %d but its children %d; counting 0 records at it",
                mapping.version,
                path,
                entry.size,
                below[path],
            )
        own[path] = max(n, 0)
    return own


def _rule_key(rule: Rule) -> tuple[str, bool]:
    return rule.pattern, rule.regex


def _rule_changes(a: Sequence[Rule], b: Sequence[Rule]) -> pd.DataFrame:
    before = {_rule_key(r): r for r in a}
    after = {_rule_key(r): r for r in b}
    rows = []
    for key in [*before, *(k for k in after if k not in before)]:
        ra, rb = before.get(key), after.get(key)
        if ra is not None and rb is not None:
            if (ra.path, ra.label) == (rb.path, rb.label):
                continue
            change = "changed"
        else:
            change = "removed" if rb is None else "added"
        rows.append(
            {
                "change": change,
                "pattern": key[0],
                "regex": key[1],
                "path_a": ra.path if ra else "",
                "path_b": rb.path if rb else "",
                "label_a": (ra.label or "") if ra else "",
                "label_b": (rb.label or "") if rb else "",
            }
        )
    return pd.DataFrame(rows, columns=RULE_COLUMNS)


def compare_mappings(a: Mapping, b: Mapping) -> Comparison:
    """Compare two mapping versions entry by entry; flows from sizes (see the module doc)."""
    res_a, res_b = resolve(a), resolve(b)
    entries_a, entries_b = a.by_path(), b.by_path()
    counts = dict.fromkeys(MAPPING_KINDS, 0)
    rows: list[dict[str, object]] = []
    for path in _sorted_paths(set(entries_a) | set(entries_b)):
        ea, eb = entries_a.get(path), entries_b.get(path)
        if ea is None or eb is None:
            kind = "added" if ea is None else "removed"
            entry = eb if ea is None else ea
            assert entry is not None
            counts[kind] += 1
            details = [f"{_action(entry)}; {entry.size} records"]
            rows.append(_entry_row(kind, path, ea, eb, res_a, res_b, entry.size, details))
            continue
        kinds, details = [], []
        if _entry_label(ea) != _entry_label(eb):
            kinds.append("renamed")
        action_kind = _action_kind(ea, eb)
        if action_kind is not None:
            kinds.append(action_kind)
            details.append(f"{_action(ea)} → {_action(eb)}")
        if not kinds:
            counts["same"] += 1
            continue
        for kind in kinds:
            counts[kind] += 1
        rows.append(_entry_row(", ".join(kinds), path, ea, eb, res_a, res_b, eb.size, details))

    cells = _own_sizes(a if len(a.topics) >= len(b.topics) else b)
    paths = list(cells)
    pairs = pd.DataFrame(
        {
            "a": [res_a.final_path(p) for p in paths],
            "b": [res_b.final_path(p) for p in paths],
            "n": [cells[p] for p in paths],
        }
    )
    pairs = pairs.groupby(["a", "b"], as_index=False, sort=False)["n"].sum()
    labels_a = {f: res_a.label(f) for f in pairs["a"]}
    labels_b = {f: res_b.label(f) for f in pairs["b"]}
    flows = _flow_frame(pairs, labels_a, labels_b)
    total = int(flows["records"].sum())
    moved = int(flows.loc[flows["from_path"] != flows["to_path"], "records"].sum())
    return Comparison(
        flows=flows,
        changes=pd.DataFrame(rows, columns=CHANGE_COLUMNS),
        counts=counts,
        records_a=total,
        records_b=total,
        only_a=0,
        only_b=0,
        moved=moved,
        topics_a=len(entries_a),
        topics_b=len(entries_b),
        kinds=MAPPING_KINDS,
        rules=_rule_changes(a.rules, b.rules),
    )


def _entry_row(
    kind: str,
    path: str,
    ea: TopicEntry | None,
    eb: TopicEntry | None,
    res_a: Resolution,
    res_b: Resolution,
    records: int,
    details: list[str],
) -> dict[str, object]:
    final_a = res_a.final_path(path) if ea is not None else None
    final_b = res_b.final_path(path) if eb is not None else None
    if final_a is not None and final_b is not None and final_a != final_b:
        details.append(f"records end at {final_b} (were at {final_a})")
    return {
        "kind": kind,
        "a_paths": [path] if ea is not None else [],
        "a_labels": [_entry_label(ea)] if ea is not None else [],
        "b_paths": [path] if eb is not None else [],
        "b_labels": [_entry_label(eb)] if eb is not None else [],
        "records": int(records),
        "detail": "; ".join(details),
    }


# Sankey -----------------------------------------------------------------------------------


def sankey_figure(flows: pd.DataFrame, limit: int = SANKEY_LINKS) -> go.Figure:
    """The largest ``limit`` flows as a Sankey (A on the left, B on the right).

    Smaller flows are summed into one grey "other flows" link, so the browser
    gets at most ``limit + 1`` links whatever the number of topics; the flows
    table and its CSV have every flow.
    """
    top = flows.head(limit)
    rest = int(flows["records"].iloc[limit:].sum())
    nodes: dict[tuple[str, str], int] = {}
    names: list[str] = []

    def node(side: str, path: str, label: str) -> int:
        key = (side, path)
        if key not in nodes:
            nodes[key] = len(names)
            names.append(f"{side}: {path} {label}"[:60] if path else f"{side}: {label}")
        return nodes[key]

    sources, targets, values, colors = [], [], [], []
    for row in top.itertuples(index=False):
        sources.append(node("A", row.from_path, row.from_label))
        targets.append(node("B", row.to_path, row.to_label))
        values.append(int(row.records))
        colors.append("rgba(31, 119, 180, 0.35)")
    if rest:
        sources.append(node("A", "", f"other flows ({len(flows) - limit})"))
        targets.append(node("B", "", "other flows"))
        values.append(rest)
        colors.append("rgba(150, 150, 150, 0.35)")
    side_a = sum(1 for side, _ in nodes if side == "A")
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": names, "pad": 8, "thickness": 14},
            link={
                "source": sources,
                "target": targets,
                "value": values,
                "color": colors,
                "hovertemplate": "%{source.label} → %{target.label}<br>%{value} records"
                "<extra></extra>",
            },
        )
    )
    figure.update_layout(
        height=max(360, 24 * max(side_a, len(nodes) - side_a) + 80),
        margin={"t": 10, "l": 10, "r": 10, "b": 10},
    )
    return figure
