"""The mapping editor's work apart from the web: which file a run's review edits, a
submitted form turned into a ``Mapping`` and checked by the mapping package's own
validator, the next version written, and phrase rules tried on the run's texts.

Versions: layer N's model writes ``mapping.vN.draft.yaml`` (revision 1); each save in
the studio writes the next revision, ``mapping.vN.r2.yaml``, ``mapping.vN.r3.yaml``...
next to it and never overwrites a file, so every version stays comparable. A saved file
is read back with ``load_mapping`` (what ``strata pipeline resume RUN --mapping FILE``
does) before it is handed to the run.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping as FormFields
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from topicstrata.errors import MappingError
from topicstrata.io.schema import EMBED_TEXT
from topicstrata.mapping import (
    Mapping,
    Rule,
    TopicEntry,
    dump_mapping,
    load_mapping,
    mapping_problems,
    match_rules,
)
from topicstrata.pipeline.artifacts import ArtifactStore
from topicstrata.pipeline.store import RunRecord, RunStore
from topicstrata.run.outputs import VIEWS
from topicstrata.studio.errors import StudioError, bad_param
from topicstrata.studio.rundir import (
    MAPPING_FILE,
    mapping_files,
    output_folder,
    read_run_mapping,
)
from topicstrata.studio.runinfo import review_layer

__all__ = [
    "EditTarget",
    "Edited",
    "RuleTrial",
    "apply_form",
    "edit_target",
    "next_version_path",
    "rule_texts",
    "save_version",
    "try_rule",
]

logger = logging.getLogger(__name__)

#: Records shown as examples of what a rule catches.
RULE_EXAMPLES = 5
#: Characters of each example shown.
EXAMPLE_CHARS = 240
#: Editable statuses: a run under review, or one that has finished.
EDITABLE = ("waiting", "succeeded")


@dataclass(frozen=True)
class EditTarget:
    """The mapping a page edits and what saving it does."""

    run_id: str
    folder: Path
    file: Path
    layer: int
    #: Saving resumes the run (it waits for the review of ``layer``).
    resumes: bool
    files: list[str]

    @property
    def previous(self) -> str | None:
        """The version of the same layer before this one (to compare with), if any."""
        same = [f for f in self.files if _layer_of(f) == self.layer]
        at = same.index(self.file.name) if self.file.name in same else 0
        return same[at - 1] if at > 0 else None

    def read(self) -> tuple[Mapping, str]:
        """The mapping and the digest of its bytes (a form carries it, so a save on a
        file that changed since the page was opened is refused)."""
        digest = hashlib.sha256(self.file.read_bytes()).hexdigest()[:16]
        return read_run_mapping(self.file, self.run_id), digest


def edit_target(root: Path, run: RunRecord, file: str | None) -> EditTarget:
    """The file to edit: ``file`` if given (a mapping file of the run's folder), else the
    newest version of the layer under review (a waiting run) or of the last layer."""
    if run.status not in EDITABLE:
        raise StudioError(
            409,
            f"run {run.run_id} is {run.status}",
            "the mapping editor opens for a run waiting for its review or a finished run; "
            + (
                "wait for it to finish."
                if run.status == "running"
                else f"resume it first (`strata pipeline resume {run.run_id}`)."
            ),
        )
    folder = output_folder(root, run)
    files = mapping_files(folder)
    resumes = run.status == "waiting"
    waiting_step = str((run.waiting or {}).get("step", ""))
    layer = review_layer(waiting_step) if resumes else None
    if resumes and layer is None:
        raise StudioError(
            409,
            f"run {run.run_id} does not wait for a mapping review",
            f"it waits for step {waiting_step!r}; resume it from its run page.",
        )
    if layer is not None:
        files = [f for f in files if _layer_of(f) == layer]
    if not files:
        raise StudioError(
            404,
            f"run {run.run_id} has no mapping file",
            f"no mapping.v*.yaml in {folder}; the run's output folder may have been moved.",
        )
    if file is None:
        file = files[-1]
    elif file not in files:
        raise bad_param(
            "file",
            file,
            f"pick one of this run's mapping files: {', '.join(files)}"
            + (f" (the run waits for the review of layer {layer})." if layer else "."),
        )
    chosen = folder / file
    return EditTarget(
        run.run_id, folder, chosen, layer or _layer_of(file), resumes, mapping_files(folder)
    )


def _layer_of(name: str) -> int:
    match = MAPPING_FILE.fullmatch(name)
    assert match is not None
    return int(match.group("layer"))


def next_version_path(folder: Path, layer: int) -> Path:
    """``mapping.v<layer>.r<k>.yaml`` with k one past the newest revision (the draft is 1)."""
    revisions = [1]
    for name in mapping_files(folder):
        match = MAPPING_FILE.fullmatch(name)
        assert match is not None
        tag = match.group("tag") or ""
        if int(match.group("layer")) == layer and re.fullmatch(r"r\d+", tag):
            revisions.append(int(tag[1:]))
    return folder / f"mapping.v{layer}.r{max(revisions) + 1}.yaml"


@dataclass
class Edited:
    """A submitted form: the mapping it describes, or the problems keyed by form field
    (``merge_into.3``, ``rule.0.pattern``; ``""`` for the form as a whole)."""

    mapping: Mapping | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    #: What the form said, to show it again next to the errors.
    values: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def row_errors(self, prefix: str) -> list[str]:
        """Every error of one table row (``topic.3`` or ``rule.0``)."""
        kind, _, index = prefix.partition(".")
        out: list[str] = []
        for key, messages in self.errors.items():
            parts = key.split(".")
            if kind == "topic" and len(parts) == 2 and parts[1] == index:
                out += messages
            if kind == "rule" and parts[:2] == ["rule", index]:
                out += messages
        return out


def apply_form(base: Mapping, fields: FormFields[str, str], source: str) -> Edited:
    """The mapping the editor's form describes, checked like a mapping file.

    Topic rows are ``label.I``, ``action.I``, ``merge_into.I``, ``notes.I`` for the I-th
    topic of ``base``; rule rows ``rule.J.pattern|regex|path|label|delete`` for J below
    ``rules`` (a row with an empty pattern is no rule). Checked by the schema and then
    by ``mapping_problems`` with ``base``'s paths as the model's topics.
    """
    edited = Edited(None, values=dict(fields))
    entries: list[TopicEntry] = []
    for i, entry in enumerate(base.topics):
        action = fields.get(f"action.{i}", entry.action).strip()
        target = fields.get(f"merge_into.{i}", "").strip()
        data: dict[str, Any] = {
            **entry.model_dump(),
            "label": fields.get(f"label.{i}", entry.label).strip(),
            "notes": fields.get(f"notes.{i}", entry.notes),
            "action": action,
            "merge_into": (target or None) if action == "merge" else None,
        }
        try:
            entries.append(TopicEntry.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "action"
                if name not in ("label", "notes", "action", "merge_into"):
                    name = "action"
                edited.add(f"{name}.{i}", f"topic {entry.path}: {err['msg']}")
    rules: list[Rule] = []
    form_row: list[int] = []
    for j in range(_count(fields.get("rules", "0"))):
        pattern = fields.get(f"rule.{j}.pattern", "").strip()
        if not pattern or fields.get(f"rule.{j}.delete"):
            continue
        label = fields.get(f"rule.{j}.label", "").strip()
        try:
            rules.append(
                Rule(
                    pattern=pattern,
                    path=fields.get(f"rule.{j}.path", "").strip(),
                    regex=bool(fields.get(f"rule.{j}.regex")),
                    label=label or None,
                    notes=fields.get(f"rule.{j}.notes", ""),
                )
            )
            form_row.append(j)
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "pattern"
                edited.add(f"rule.{j}.{name}", f"rule {pattern!r}: {err['msg']}")
    if edited.errors:
        return edited
    mapping = Mapping(
        version=base.version,
        layer=base.layer,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        created_by="studio",
        topics=entries,
        rules=rules,
    )
    for problem in mapping_problems(mapping, [e.path for e in base.topics], source=source):
        kind, index, part = (*problem.loc, "", "", "")[:3]
        if kind == "topics" and isinstance(index, int):
            key = f"{part if part in ('merge_into', 'action', 'label') else 'action'}.{index}"
        elif kind == "rules" and isinstance(index, int):
            key = f"rule.{form_row[index]}.{part or 'pattern'}"
        else:
            key = ""
        edited.add(key, problem.message)
    if not edited.errors:
        edited.mapping = mapping
    return edited


def _count(raw: str) -> int:
    return int(raw) if raw.isdigit() and int(raw) < 10_000 else 0


def save_version(target: EditTarget, mapping: Mapping) -> Path:
    """Write ``mapping`` as the next version in the run's folder and read it back the way
    the pipeline will; a file that does not read back is removed and reported."""
    path = next_version_path(target.folder, target.layer)
    dump_mapping(mapping, path)
    try:
        load_mapping(path, [e.path for e in mapping.topics])
    except MappingError as exc:
        path.unlink(missing_ok=True)
        raise StudioError(
            500,
            "the saved mapping does not read back",
            f"{exc}. Nothing was kept; please report this with the edits you made.",
        ) from None
    logger.info("studio saved %s for run %s", path, target.run_id)
    return path


@dataclass(frozen=True)
class RuleTrial:
    """What one rule would catch among a run's records."""

    pattern: str
    regex: bool
    matched: int
    total: int
    examples: list[str]
    error: str | None = None


def try_rule(texts: pd.Series, pattern: str, regex: bool) -> RuleTrial:
    """How many of ``texts`` the rule matches (as the pipeline matches rules: whole words
    in any case for a phrase), with the first few as examples; a bad pattern says why."""
    pattern = pattern.strip()
    if not pattern:
        return RuleTrial(pattern, regex, 0, len(texts), [], "write a phrase or a pattern first")
    try:
        rule = Rule(pattern=pattern, path="1", regex=regex)
        hits = match_rules(texts, [rule]) >= 0
    except (ValidationError, MappingError, re.error) as exc:
        return RuleTrial(pattern, regex, 0, len(texts), [], str(exc))
    examples = [str(t)[:EXAMPLE_CHARS] for t in texts[hits].head(RULE_EXAMPLES)]
    return RuleTrial(pattern, regex, int(hits.sum()), len(texts), examples)


def rule_texts(root: Path, run: RunRecord) -> pd.Series:
    """The texts the pipeline matches rules against (the preprocessed ``embed_text``):
    the run folder's ``views.parquet`` when it has one, else the preprocess step's stored
    output (a run waiting for its review has written no run folder yet)."""
    views = output_folder(root, run) / VIEWS
    if views.is_file():
        return _views_column(str(views), views.stat().st_mtime_ns)
    for row in RunStore(root).lineage(run.run_id, "preprocess"):
        if row["direction"] == "write":
            return _artifact_column(str(root), row["sha256"])
    raise StudioError(
        404,
        f"no texts for run {run.run_id}",
        "the run has neither views.parquet nor a stored preprocess output to try rules on.",
    )


# One entry each: a million texts are a few hundred MB.
@lru_cache(maxsize=1)
def _views_column(path: str, mtime_ns: int) -> pd.Series:
    return pd.read_parquet(path, columns=[EMBED_TEXT])[EMBED_TEXT]


@lru_cache(maxsize=1)
def _artifact_column(root: str, sha256: str) -> pd.Series:
    views = ArtifactStore(root).get(sha256)
    column: pd.Series = views[EMBED_TEXT].reset_index(drop=True)
    return column
