"""``Ensemble``: the sequential ensemble of layers, its tree, its mappings, and routing.

Layer 1 clusters every record. After each layer a mapping is generated (with
the edits of the mapping given to ``fit`` carried over) and handed to the
``review`` callback, which may return an edited one. Merges and drops of that
mapping are applied, then the next layer re-clusters, one ``LayerModel`` per
topic, every topic the mapping marks ``split``. Records matched by a mapping
rule are moved to the rule's topic as soon as that topic's layer is fitted,
so the next layer clusters them with it; rules never change how the topics of
their own layer are formed, which keeps every other edit of the mapping
pointing at the same topics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Mapping as AbcMapping
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.ensemble.config import EnsembleConfig
from topicstrata.ensemble.fit import child_path, cluster_group, describe_group, fans_out
from topicstrata.ensemble.flags import wants_split
from topicstrata.ensemble.keywords import distinct_across_level
from topicstrata.ensemble.tree import TopicNode, TopicTree
from topicstrata.errors import ConfigError, InputError, ModelError
from topicstrata.fanout import LocalFanOut, MapFn
from topicstrata.layers import LayerModel
from topicstrata.mapping import (
    OUTLIER,
    Mapping,
    TopicSummary,
    apply_mapping,
    generate_mapping,
    match_rules,
    path_level,
    resolve,
    validate_mapping,
)
from topicstrata.threads import single_threaded_for

logger = logging.getLogger(__name__)

#: ``review(layer, mapping)`` may return an edited mapping, or None to approve as is.
ReviewCallback = Callable[[int, Mapping], Mapping | None]

ROOT = ""


class Ensemble:
    """A fitted hierarchy of topics with the mappings that label and reshape it."""

    def __init__(self, config: EnsembleConfig | None = None) -> None:
        self.config = config

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        embeddings: ArrayLike,
        keyword_texts: Sequence[str],
        ids: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        mapping: Mapping | None = None,
        review: ReviewCallback | None = None,
        progress: ProgressCallback = null_progress,
        map_fn: MapFn | None = None,
        fit_rows: ArrayLike | None = None,
    ) -> Self:
        """Fit every layer; ``texts`` feed the mapping's phrase rules.

        The same as ``begin``, then ``fit_layer`` / ``accept_mapping`` per layer
        (with ``review`` in between), then ``finish``: the pipeline calls those
        steps one by one so a person can review each layer's mapping.
        """
        self.begin(embeddings, keyword_texts, ids, texts, mapping, fit_rows)
        n_layers = len(self.config_.layers)
        for layer_no in range(1, n_layers + 1):
            progress("layers", layer_no - 1, n_layers)
            draft = self.fit_layer(layer_no, embeddings, keyword_texts, map_fn=map_fn)
            reviewed = review(layer_no, draft) if review is not None else None
            self.accept_mapping(reviewed or draft, texts)
        progress("layers", n_layers, n_layers)
        return self.finish()

    def begin(
        self,
        embeddings: ArrayLike,
        keyword_texts: Sequence[str],
        ids: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        mapping: Mapping | None = None,
        fit_rows: ArrayLike | None = None,
    ) -> Self:
        """Start a fit: check the inputs and reset the learned state.

        ``fit_rows`` (indices) are the records every layer model learns from first,
        e.g. those embedded by the teacher model on the large-input path: each model's
        sample holds all of its group's ``fit_rows`` (up to ``max_fit_samples``), then
        seeded random others up to ``max_fit_samples``, as large as without
        ``fit_rows``. Every record is assigned by the fitted models.
        """
        cfg = self.config if self.config is not None else EnsembleConfig()
        n = len(embeddings)  # type: ignore[arg-type]
        ids = [str(i) for i in (ids if ids is not None else range(n))]
        _check_lengths(n, keyword_texts=len(keyword_texts), ids=len(ids))
        if texts is not None:
            _check_lengths(n, texts=len(texts))
        if n < 2:
            raise InputError(f"only {n} records to cluster; give at least 2.")
        self.config_ = cfg
        self.given_mapping_ = mapping
        self.ids_ = ids
        self.fit_mask_ = None
        if fit_rows is not None:
            self.fit_mask_ = np.zeros(n, dtype=bool)
            self.fit_mask_[np.asarray(fit_rows, dtype=np.intp)] = True
        self.tree_ = TopicTree()
        self.models_ = {}
        self.mappings_ = []
        self.paths_ = np.full(n, OUTLIER, dtype=object)
        self.confidence_ = np.ones(n, dtype=np.float32)
        self.rule_index_ = np.full(n, -1, dtype=np.intp)
        self.layers_fitted_ = 0
        return self

    def fit_layer(
        self,
        layer_no: int,
        embeddings: ArrayLike,
        keyword_texts: Sequence[str],
        map_fn: MapFn | None = None,
    ) -> Mapping:
        """Fit layer ``layer_no`` (topics the last mapping marks split); return a draft mapping.

        ``map_fn(func, {key: kwargs})`` runs the per-topic fits; the default runs
        them in local processes. The pipeline passes its cached fan-out instead.
        """
        if not hasattr(self, "mappings_") or len(self.mappings_) != layer_no - 1:
            done = len(getattr(self, "mappings_", []))
            raise ModelError(
                f"cannot fit layer {layer_no}: {done} layer(s) accepted so far; call begin(), "
                "then fit_layer() and accept_mapping() for each layer in order."
            )
        cfg = self.config_
        if not 1 <= layer_no <= len(cfg.layers):
            raise ConfigError(f"layer {layer_no} is not configured ({len(cfg.layers)} layers).")
        X = np.ascontiguousarray(embeddings, dtype=np.float32)
        _check_lengths(len(self.paths_), embeddings=len(X), keyword_texts=len(keyword_texts))
        kw = list(keyword_texts)
        if layer_no == 1:
            jobs: list[tuple[str | None, NDArray[np.intp]]] = [(None, np.arange(len(X)))]
        else:
            jobs = self._split_jobs(self.mappings_[-1], layer_no, cfg)
        layer = cfg.layers[layer_no - 1]

        def rows_of(rows: NDArray[np.intp]) -> NDArray[np.float32]:
            # Layer 1 takes every row: a view, not a copy of a matrix that may be GBs.
            return X if len(rows) == len(X) else X[rows]

        run_map = map_fn or self._local_map()
        mask = getattr(self, "fit_mask_", None)
        group_rows = {(parent or ROOT): rows for parent, rows in jobs}
        models: dict[str, LayerModel] = run_map(
            cluster_group,
            _LazyItems(
                group_rows,
                lambda key, rows: {
                    "embeddings": rows_of(rows),
                    "layer": layer,
                    "random_state": cfg.random_state,
                    "fit_rows": None if mask is None else np.flatnonzero(mask[rows]),
                },
            ),
        )
        described: dict[str, list[TopicNode]] = run_map(
            describe_group,
            _LazyItems(
                group_rows,
                lambda key, rows: {
                    "parent": key or None,
                    "embeddings": rows_of(rows),
                    "labels": models[key].labels_,
                    "centroids": models[key].centroids_,
                    "keyword_texts": [kw[i] for i in rows],
                    "ids": [self.ids_[i] for i in rows],
                    "representation": cfg.representation,
                    "split_rule": cfg.split,
                    "last_layer": layer_no == len(cfg.layers),
                },
            ),
        )
        if cfg.representation.keyword_score == "distinct":
            # Topics of earlier layers that stay whole stand at this level too: their
            # words are taken (see ``distinct_across_level``).
            split = {parent for parent, _ in jobs} | {
                node.parent for node in self.tree_.nodes.values()
            }
            standing = [n.keywords for n in self.tree_.nodes.values() if n.path not in split]
            described = distinct_across_level(
                described,
                cfg.representation.max_topics_per_keyword,
                taken=standing,
                min_keywords=cfg.representation.min_keywords,
            )
        for parent, rows in jobs:
            model = models[parent or ROOT]
            self.models_[parent or ROOT] = model
            for node in described[parent or ROOT]:
                self.tree_.add(node)
            logger.info("fitted %s into %d topics", parent or "all records", model.n_topics_)
            self.paths_[rows] = [child_path(parent, int(c)) for c in model.labels_]
            self.confidence_[rows] *= model.confidence(rows_of(rows), model.labels_)
        self.layers_fitted_ = layer_no
        split_now = {
            node.path
            for node in self.tree_.at_level(layer_no)
            if layer_no < len(cfg.layers) and wants_split(node, cfg.split)
        }
        previous = self.mappings_[-1] if self.mappings_ else None
        return generate_mapping(
            _summaries(self.tree_),
            version=layer_no,
            layer=layer_no,
            previous=_overlay(self.given_mapping_, previous),
            default_split=split_now,
        )

    def accept_mapping(self, mapping: Mapping, texts: Sequence[str] | None = None) -> Self:
        """Apply the reviewed mapping of the layer just fitted (merges, drops, rules)."""
        layer_no = len(self.mappings_) + 1
        if self.layers_fitted_ < layer_no:
            raise ModelError(f"layer {layer_no} has not been fitted; call fit_layer() first.")
        validate_mapping(mapping, known_paths=set(self.tree_.nodes), source=f"mapping v{layer_no}")
        if texts is not None:
            _check_lengths(len(self.paths_), texts=len(texts))
        self.mappings_.append(mapping)
        self.paths_ = apply_mapping(self.paths_, mapping)[0]
        text_list = list(texts) if texts is not None else None
        self.rule_index_ = _apply_rules_at(self.paths_, text_list, mapping, layer_no)
        return self

    def finish(self) -> Self:
        """Compute the final assignments once every layer is accepted."""
        if not getattr(self, "mappings_", None):
            raise ModelError("no layer accepted yet; fit_layer() and accept_mapping() first.")
        self.assignments_ = self._assignments(
            self.ids_, self.paths_, self.confidence_, self.rule_index_
        )
        return self

    def _local_map(self) -> MapFn:
        cfg = self.config_

        def run(
            func: Callable[..., Any], items: AbcMapping[str, AbcMapping[str, Any]]
        ) -> dict[str, Any]:
            parallel = cfg.n_jobs != 1 and fans_out(func, items, cfg)
            if parallel:
                logger.info("fitting %d topics in parallel processes", len(items))
            # max_nbytes="1M": large per-topic embeddings reach the workers as memory maps.
            return LocalFanOut(cfg.n_jobs if parallel else 1, max_nbytes="1M").map(func, items)

        return run

    def _split_jobs(
        self, mapping: Mapping, layer_no: int, cfg: EnsembleConfig
    ) -> list[tuple[str | None, NDArray[np.intp]]]:
        layer = cfg.layers[layer_no - 1]
        jobs: list[tuple[str | None, NDArray[np.intp]]] = []
        for parent in mapping.paths_to_split(layer_no - 1):
            rows = np.flatnonzero(self.paths_ == parent)
            if len(rows) < max(cfg.split.min_size, layer.k_range[0] + 1):
                logger.info("not splitting %s: only %d records", parent, len(rows))
                continue
            jobs.append((parent, rows))
        return jobs

    # -------------------------------------------------------------- predict
    def predict(self, embeddings: ArrayLike, texts: Sequence[str] | None = None) -> pd.DataFrame:
        """Route records down the tree; columns ``path``, ``label``, ``keywords``,
        ``confidence``, ``rule_applied`` and ``path_l1..path_lN``."""
        self._check_fitted()
        X = np.ascontiguousarray(embeddings, dtype=np.float32)
        n = len(X)
        if texts is not None:
            _check_lengths(n, texts=len(texts))
        paths = np.full(n, OUTLIER, dtype=object)
        confidence = np.ones(n, dtype=np.float32)
        text_list = list(texts) if texts is not None else None
        rule_index = np.full(n, -1, dtype=np.intp)
        with single_threaded_for(n):
            for layer_no, layer_mapping in enumerate(self.mappings_, start=1):
                for parent, model in self.models_.items():
                    if (parent == ROOT) != (layer_no == 1) or (
                        parent != ROOT and path_level(parent) != layer_no - 1
                    ):
                        continue
                    rows = np.arange(n) if parent == ROOT else np.flatnonzero(paths == parent)
                    if len(rows) == 0:
                        continue
                    labels = model.predict(X[rows])
                    confidence[rows] *= model.confidence(X[rows], labels)
                    prefix = None if parent == ROOT else parent
                    paths[rows] = [child_path(prefix, int(c)) for c in labels]
                paths = apply_mapping(paths, layer_mapping)[0]
                rule_index = _apply_rules_at(paths, text_list, layer_mapping, layer_no)
        return self._assignments(None, paths, confidence, rule_index)

    # --------------------------------------------------------------- views
    @property
    def mapping_(self) -> Mapping:
        """The mapping of the last layer (the one predict applies)."""
        self._check_fitted()
        return self.mappings_[-1]

    @property
    def n_layers_(self) -> int:
        return len(self.mappings_)

    def topics_frame(self) -> pd.DataFrame:
        """One row per topic of the tree, with the mapping's label and action."""
        self._check_fitted()
        frame = self.tree_.to_frame()
        entries = self.mapping_.by_path()
        resolution = resolve(self.mapping_)
        frame["label"] = [resolution.label(resolution.final_path(p)) for p in frame["path"]]
        frame["action"] = [entries[p].action if p in entries else "keep" for p in frame["path"]]
        frame["final_path"] = [resolution.final_path(p) for p in frame["path"]]
        return frame

    def _assignments(
        self,
        ids: Sequence[str] | None,
        paths: NDArray[np.object_],
        confidence: NDArray[np.float32],
        rule_index: NDArray[np.intp],
    ) -> pd.DataFrame:
        mapping = self.mappings_[-1] if hasattr(self, "mappings_") else None
        if mapping is None:
            raise ModelError("internal: no mapping to apply")
        resolution = resolve(mapping)
        final, labels = apply_mapping(paths, resolution)
        ruled = rule_index >= 0
        rule_applied = np.full(len(paths), "", dtype=object)
        for i in np.flatnonzero(ruled):
            rule = mapping.rules[rule_index[i]]
            labels[i] = rule.label or resolution.label(final[i])
            rule_applied[i] = rule.pattern
        confidence = np.where(ruled, 1.0, confidence).astype(np.float32)
        keywords = _keywords_by_path(mapping)
        paths_out = [str(p) for p in final]
        columns: dict[str, Any] = {}
        if ids is not None:
            columns["id"] = list(ids)
        columns |= {
            "path": paths_out,
            "label": [str(v) for v in labels],
            "keywords": [keywords.get(p, "") for p in paths_out],
            "confidence": confidence,
            "rule_applied": [str(v) for v in rule_applied],
        }
        # Plain lists, built once: a one-record prediction (the service's common case)
        # spent ~1 ms in pandas' per-column inserts and ``.str.split`` here.
        parts = [p.split(".") for p in paths_out]
        for level in range(1, max(1, self.n_layers_) + 1):
            columns[f"path_l{level}"] = [".".join(p[:level]) for p in parts]
        return pd.DataFrame(columns)

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise ModelError("this Ensemble is not fitted yet; call fit() or load a saved model.")

    # self.mappings_ is set in fit, so mapping_ works on fitted ensembles only.
    config_: EnsembleConfig
    tree_: TopicTree
    models_: dict[str, LayerModel]
    mappings_: list[Mapping]
    ids_: list[str]
    fit_mask_: NDArray[np.bool_] | None
    given_mapping_: Mapping | None
    paths_: NDArray[np.object_]
    confidence_: NDArray[np.float32]
    rule_index_: NDArray[np.intp]
    layers_fitted_: int
    assignments_: pd.DataFrame


class _LazyItems(AbcMapping[str, dict[str, Any]]):
    """Per-topic keyword arguments of a layer's fan-out, built when asked for.

    Each topic's item holds a copy of its records' vectors; built all at once, a layer
    of a million records held a second copy of every vector (1.5 GB) twice over. Built
    on access, a map holds the few items it is working on.
    """

    def __init__(
        self,
        rows: dict[str, NDArray[np.intp]],
        build: Callable[[str, NDArray[np.intp]], dict[str, Any]],
    ) -> None:
        self._rows = rows
        self._build = build

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._build(key, self._rows[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def _overlay(base: Mapping | None, top: Mapping | None) -> Mapping | None:
    """Edits of ``top`` over those of ``base``: a given mapping's deeper entries survive
    until their layer is fitted, while reviewed entries of fitted layers win."""
    if base is None or top is None:
        return top if base is None else base
    by_path = {e.path: e for e in base.topics}
    by_path.update({e.path: e for e in top.topics})
    # Rules to deeper topics are dropped from a layer's mapping until that layer exists.
    seen = {(r.pattern, r.path, r.regex) for r in top.rules}
    rules = [*top.rules, *(r for r in base.rules if (r.pattern, r.path, r.regex) not in seen)]
    return top.model_copy(update={"topics": list(by_path.values()), "rules": rules})


def _apply_rules_at(
    paths: NDArray[np.object_], texts: list[str] | None, mapping: Mapping, layer_no: int
) -> NDArray[np.intp]:
    """Move rule-matched records to their rule's topic once its layer exists (in place).

    Returns the index of the matching rule per record (-1: none), first rule wins.
    """
    rule_index = np.full(len(paths), -1, dtype=np.intp)
    if texts is None or not mapping.rules:
        return rule_index
    rule_index = match_rules(texts, mapping.rules)
    resolution = resolve(mapping)
    targets = [
        resolution.final_path(r.path) if path_level(r.path) <= layer_no else None
        for r in mapping.rules
    ]
    for i in np.flatnonzero(rule_index >= 0):
        if (target := targets[rule_index[i]]) is not None:
            paths[i] = target
    return rule_index


def _summaries(tree: TopicTree) -> list[TopicSummary]:
    return [
        TopicSummary(
            path=node.path,
            level=node.level,
            keywords=list(node.keywords),
            phrases=list(node.phrases),
            size=node.size,
            flags=list(node.flags),
            representative_ids=list(node.representative_ids),
        )
        for node in (tree.nodes[p] for p in tree.sorted_paths())
    ]


def _keywords_by_path(mapping: Mapping) -> dict[str, str]:
    return {e.path: ", ".join(e.keywords[:5]) for e in mapping.topics}


def _check_lengths(n: int, **lengths: int) -> None:
    for name, length in lengths.items():
        if length != n:
            raise InputError(
                f"{name} has {length} rows but the embeddings have {n}; pass one row per record."
            )
