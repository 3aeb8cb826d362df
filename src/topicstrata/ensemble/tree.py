"""The topic tree: nodes addressed by path ("7", "7.2", "7.2.1")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from topicstrata.mapping.paths import parent_path, path_level, path_sort_key


@dataclass
class TopicNode:
    """What the ensemble learned about one topic (before the mapping is applied)."""

    path: str
    size: int
    keywords: list[str] = field(default_factory=list)
    keyword_scores: list[float] = field(default_factory=list)
    #: The topic's c-TF-IDF top words among its siblings: what ``coherence`` scores, and
    #: where ``distinct`` keyword lists are filled from.
    vocabulary: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    representative_ids: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    coherence: float | None = None
    dispersion: float | None = None

    @property
    def level(self) -> int:
        return path_level(self.path)

    @property
    def parent(self) -> str | None:
        return parent_path(self.path)


@dataclass
class TopicTree:
    """All topic nodes of all layers, with parent/child navigation."""

    nodes: dict[str, TopicNode] = field(default_factory=dict)

    def add(self, node: TopicNode) -> None:
        self.nodes[node.path] = node

    def children(self, path: str | None) -> list[TopicNode]:
        """Direct children of ``path`` (``None`` for the layer-1 topics), in path order."""
        kids = [n for n in self.nodes.values() if n.parent == path]
        return sorted(kids, key=lambda n: path_sort_key(n.path))

    def at_level(self, level: int) -> list[TopicNode]:
        return sorted(
            (n for n in self.nodes.values() if n.level == level),
            key=lambda n: path_sort_key(n.path),
        )

    @property
    def depth(self) -> int:
        return max((n.level for n in self.nodes.values()), default=0)

    def sorted_paths(self) -> list[str]:
        return sorted(self.nodes, key=path_sort_key)

    def to_records(self) -> list[dict[str, Any]]:
        return [asdict(self.nodes[p]) for p in self.sorted_paths()]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> TopicTree:
        tree = cls()
        for rec in records:
            tree.add(TopicNode(**rec))
        return tree

    def to_frame(self) -> pd.DataFrame:
        rows = []
        for path in self.sorted_paths():
            node = self.nodes[path]
            rows.append({**asdict(node), "level": node.level, "parent": node.parent or ""})
        return pd.DataFrame(rows)
