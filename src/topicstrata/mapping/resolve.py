"""Apply a mapping's merges, drops and labels to topic paths.

Resolution walks a path from the root down and stops at the first topic on
the way that is merged or dropped, so a topic's whole subtree moves with it:

* ``merge``: 7.2 merged into 7.3 sends 7.2 and every 7.2.x to 7.3's final
  path (7.3 itself, or wherever 7.3 is merged in turn; chains are followed).
  They land on 7.3 as a leaf; 7.3's own children are not touched.
* ``drop`` of a layer-1 topic: its records become outliers, ``-1``.
* ``drop`` of a deeper topic: its records stay at the parent (7.2 dropped ->
  7); the deeper level counts as outlier for them.
* ``keep``, ``split``, ``rename``: the path is unchanged.

Paths that the mapping does not list pass through unchanged unless an
ancestor is merged or dropped. The label of a final path is its entry's label
(the auto label when empty); "Outliers" for ``-1``; else the nearest listed
ancestor's label.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from topicstrata.errors import MappingError
from topicstrata.mapping.labels import OUTLIER_LABEL, default_label
from topicstrata.mapping.paths import OUTLIER, is_outlier, parent_path
from topicstrata.mapping.schema import Mapping

__all__ = ["MergeCycleError", "Resolution", "apply_mapping", "resolve"]

logger = logging.getLogger(__name__)


class MergeCycleError(MappingError):
    """Merges that lead back to where they started; ``cycle`` lists the paths."""

    def __init__(self, message: str, cycle: list[str]) -> None:
        super().__init__(message)
        self.cycle = cycle


class Resolution:
    """Final path and label for every path of a mapping (and any other path asked for).

    ``final`` maps each path listed in the mapping to its final path;
    ``labels`` maps each final path to its label.
    """

    def __init__(self, mapping: Mapping) -> None:
        by_path = mapping.by_path()
        self._moves: dict[str, tuple[str, str | None]] = {
            e.path: (e.action, e.merge_into)
            for e in mapping.topics
            if e.action in ("merge", "drop")
        }
        self._entry_labels = {
            path: e.label or default_label(path, e.keywords, e.phrases)
            for path, e in by_path.items()
        }
        self._memo: dict[str, str] = {}
        self.final: dict[str, str] = {path: self.final_path(path) for path in by_path}
        self.labels: dict[str, str] = {f: self.label(f) for f in sorted(set(self.final.values()))}

    def final_path(self, path: str) -> str:
        """Where records at ``path`` end up after merges and drops."""
        return self._final(path, [])

    def label(self, final_path: str) -> str:
        """The label shown for records at ``final_path``."""
        node: str | None = final_path
        while node is not None:
            if node in self._entry_labels:
                return self._entry_labels[node]
            if is_outlier(node) and parent_path(node) is None:
                return OUTLIER_LABEL
            node = parent_path(node)
        return final_path

    def _final(self, path: str, chain: list[str]) -> str:
        # A loop, not recursion: a hand-edited file may chain thousands of merges.
        trail = list(chain)
        current = path
        while current not in self._memo:
            if current in trail:
                cycle = [*trail[trail.index(current) :], current]
                raise MergeCycleError(
                    "merge cycle " + " -> ".join(cycle) + "; one of these topics must keep its "
                    "records (change its action to keep)",
                    cycle,
                )
            trail.append(current)
            target, done = self._step(current)
            if target is None:
                result = done
                break
            current = target
        else:
            result = self._memo[current]
        for visited in trail[len(chain) :]:
            self._memo[visited] = result
        return result

    def _step(self, path: str) -> tuple[str | None, str]:
        """The merge target to follow from ``path``, or None and where its records end."""
        parts = path.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            move = self._moves.get(prefix)
            if move is None:
                continue
            action, target = move
            if action == "merge" and target is not None:
                return target, ""
            return None, OUTLIER if depth == 1 else ".".join(parts[: depth - 1])
        return None, path


def resolve(mapping: Mapping) -> Resolution:
    """Resolve every merge chain and drop of ``mapping``; raises MappingError on a merge cycle."""
    return Resolution(mapping)


def apply_mapping(
    paths: Sequence[str] | NDArray[np.object_] | pd.Series,
    mapping: Mapping | Resolution,
) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """Final path and label for each record's leaf path, as two object arrays.

    Work is done once per distinct path, so a million records with a few
    hundred topics cost one factorize and two takes. Missing paths (None or
    NaN) are treated as outliers.
    """
    resolution = mapping if isinstance(mapping, Resolution) else resolve(mapping)
    codes, uniques = pd.factorize(np.asarray(paths, dtype=object), use_na_sentinel=True)
    keys = [str(u) for u in uniques] + [OUTLIER]
    finals = np.array([resolution.final_path(k) for k in keys], dtype=object)
    labels = np.array([resolution.label(f) for f in finals], dtype=object)
    # The NA sentinel -1 indexes the appended OUTLIER slot.
    if (codes == -1).any():
        logger.debug(
            "apply_mapping: %d records without a path treated as outliers", (codes == -1).sum()
        )
    return finals[codes], labels[codes]
