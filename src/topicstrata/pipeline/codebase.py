"""Code fingerprints: what a step's result depends on besides its inputs.

A cache key built from the step function's own source alone reuses results
after an edit of the domain code the function calls (the k search in
``layers/``, say) or after an upgrade of topicstrata or scikit-learn. So a
step's key also carries the fingerprint of the code that runs under it:

* the source of every module the step *covers*, stripped like
  :func:`~topicstrata.pipeline.hashing.hash_source_code` (docstrings,
  comments and formatting do not count). A step covers the modules and
  packages it declares in ``code_deps``; a step that declares none covers the
  first-party modules reachable by imports from its function's module (its
  own top-level package and topicstrata), which is safe but coarse;
* the installed versions of the third-party distributions those modules
  import, of every installed distribution those require (transitively), and
  of the installed spaCy model packages when spaCy is among them;
* the topicstrata version.

Declared ``code_deps`` are not followed through imports: ``topicstrata.config``
imports every domain package, so following imports would tie every step to
every package, and an edit of ``layers/`` would invalidate ingest and
embedding. Sources are read from disk without importing anything, once per
process: the code a process runs does not change under it, so neither does
its fingerprint.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topicstrata._version import __version__
from topicstrata.errors import PipelineError
from topicstrata.pipeline.hashing import hash_bytes, stable_hash, strip_source

__all__ = ["CodeFingerprint", "code_fingerprint", "module_names"]

FIRST_PARTY = "topicstrata"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)")
_EXTRA = re.compile(r";.*\bextra\b")


@dataclass(frozen=True)
class CodeFingerprint:
    """The covered modules with their source hashes, and the library versions."""

    modules: tuple[tuple[str, str], ...]
    libraries: tuple[tuple[str, str], ...]
    version: str

    @property
    def key(self) -> str:
        """One hash of everything here, for the cache key.

        Module names do not count, only their code: a renamed import shows in
        the importing module's source, and a step function moved to a module
        of another name (same code) keeps its cache.
        """
        return stable_hash(
            {
                "topicstrata": self.version,
                "modules": sorted(digest for _, digest in self.modules),
                "libraries": [list(lib) for lib in self.libraries],
            }
        )

    def describe(self) -> dict[str, Any]:
        return {
            "topicstrata": self.version,
            "modules": dict(self.modules),
            "libraries": dict(self.libraries),
        }


def code_fingerprint(
    func: Callable[..., Any], code_deps: Sequence[str] | None = None
) -> CodeFingerprint:
    """The fingerprint of the code that decides ``func``'s result (see the module docstring)."""
    inner = func.func if isinstance(func, functools.partial) else func
    module = getattr(inner, "__module__", None) or ""
    deps = None if code_deps is None else tuple(sorted(set(code_deps)))
    return _fingerprint(module, deps)


@functools.cache
def _fingerprint(module: str, code_deps: tuple[str, ...] | None) -> CodeFingerprint:
    if code_deps is None:
        top = module.split(".")[0]
        covered = _import_closure(module, frozenset({top, FIRST_PARTY}))
    else:
        covered = set()
        for dep in code_deps:
            found = module_names(dep)
            if not found:
                raise PipelineError(
                    f"code_deps names {dep!r}, which is no module or package with Python "
                    f"source on this machine (step function in {module!r}); name an "
                    "importable module or package, e.g. 'topicstrata.layers'"
                )
            covered.update(found)
    modules = tuple((name, _source(name)[0]) for name in sorted(covered))
    imported: set[str] = set()
    for name in covered:
        imported.update(_source(name)[1])
    first_party = {name.split(".")[0] for name in covered} | {FIRST_PARTY}
    libraries = _library_versions(
        frozenset(
            top
            for top in {name.split(".")[0] for name in imported}
            if top not in first_party and top not in sys.stdlib_module_names
        )
    )
    return CodeFingerprint(modules, libraries, __version__)


# --------------------------------------------------------------------------- sources
@functools.cache
def _top_level(top: str) -> tuple[Path | None, tuple[Path, ...]]:
    """A top-level module's file and, for a package, its folders; found without importing."""
    loaded = sys.modules.get(top)
    if loaded is not None:
        file = getattr(loaded, "__file__", None)
        folders = tuple(Path(p) for p in getattr(loaded, "__path__", ()))
        return (Path(file) if file else None), folders
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None, ()
    if spec is None:
        return None, ()
    origin = Path(spec.origin) if spec.origin and spec.has_location else None
    return origin, tuple(Path(p) for p in (spec.submodule_search_locations or ()))


def _file_of(name: str) -> Path | None:
    """The ``.py`` file of module ``name`` (a package's ``__init__.py``), if on disk."""
    loaded = sys.modules.get(name)
    file = getattr(loaded, "__file__", None) if loaded is not None else None
    if file and file.endswith(".py"):
        return Path(file)
    top, *rest = name.split(".")
    origin, folders = _top_level(top)
    if not rest:
        return origin if origin is not None and origin.suffix == ".py" else None
    for folder in folders:
        base = folder.joinpath(*rest)
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
    return None


def module_names(name: str) -> list[str]:
    """Module ``name``, or every module of package ``name`` found on disk; [] if neither."""
    file = _file_of(name)
    if file is None:
        return []
    if file.name != "__init__.py":
        return [name]
    root = file.parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(".".join((name, *parts)))
    return found


@functools.cache
def _source(name: str) -> tuple[str, frozenset[str]]:
    """Module ``name``'s stripped-source hash and the absolute names it imports."""
    file = _file_of(name)
    if file is None:
        return stable_hash(["nosource", name, __version__]), frozenset()
    text = file.read_text(encoding="utf-8", errors="surrogateescape")
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return hash_bytes(text.encode("utf-8", "surrogateescape")), frozenset()
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    imports = frozenset(_imports(tree, package))
    return hash_bytes(strip_source(tree).encode()), imports


def _imports(tree: ast.AST, package: str) -> Iterable[str]:
    """Absolute names of what ``tree`` imports (also inside functions and TYPE_CHECKING)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            yield base
            # ``from pkg import mod`` imports the submodule ``pkg.mod`` when there is one.
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def _import_closure(start: str, tops: frozenset[str]) -> set[str]:
    """``start`` and every module under ``tops`` reachable from it by imports."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        if name in seen or _file_of(name) is None:
            continue
        seen.add(name)
        for imported in _source(name)[1]:
            parts = imported.split(".")
            if parts[0] in tops:
                # Importing a.b.c runs a and a.b too.
                stack.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return seen


# ------------------------------------------------------------------------- libraries
def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


@functools.cache
def _distributions_by_import() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


@functools.cache
def _installed(dist: str) -> tuple[str, tuple[str, ...]] | None:
    """A distribution's version and the names it requires (extras left out); None if absent."""
    try:
        meta = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    requires = []
    for req in meta.requires or ():
        match = _REQUIREMENT.match(req)
        if match and not _EXTRA.search(req):
            requires.append(_normalise(match.group(1)))
    return meta.version, tuple(requires)


def _spacy_models() -> list[str]:
    """Installed spaCy pipeline packages (loaded by name, so never seen as an import)."""
    models = []
    for entry in importlib.metadata.entry_points(group="spacy_models"):
        if entry.dist is not None:
            models.append(_normalise(entry.dist.name))
    return models


@functools.cache
def _library_versions(imported: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """Versions of the distributions behind ``imported`` top-level names, with their
    installed requirements, transitively; names no distribution provides are left out."""
    by_import = _distributions_by_import()
    todo = [_normalise(d) for top in sorted(imported) for d in by_import.get(top, [])]
    versions: dict[str, str] = {}
    while todo:
        dist = todo.pop()
        if dist in versions or dist == FIRST_PARTY:
            continue
        found = _installed(dist)
        if found is None:
            continue
        versions[dist] = found[0]
        todo.extend(found[1])
        if dist == "spacy":
            todo.extend(_spacy_models())
    return tuple(sorted(versions.items()))
