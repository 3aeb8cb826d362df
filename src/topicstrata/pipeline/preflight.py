"""Checks before a run starts: a missing requirement or a bad ``code_deps`` stops it
before any step runs, with every problem named."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Sequence

from topicstrata.errors import PipelineError
from topicstrata.pipeline.codebase import code_fingerprint
from topicstrata.pipeline.steps import Step

__all__ = ["check_code_deps", "check_requirements"]

_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def check_requirements(steps: Sequence[Step]) -> None:
    """Raise PipelineError listing every step requirement that is not installed.

    A requirement is an importable module (``"sklearn"``) or a distribution
    name with an optional version specifier (``"scikit-learn>=1.6"``).
    """
    problems: list[str] = []
    for step in steps:
        for req in step.requirements:
            match = _REQ.match(req)
            if not match:
                problems.append(f"step {step.name!r}: requirement {req!r} is not understood")
                continue
            name, spec = match.group(1), match.group(2).strip()
            version: str | None = None
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                found = False
                try:
                    found = importlib.util.find_spec(name) is not None
                except (ImportError, ValueError):
                    found = False
                if not found:
                    problems.append(f"step {step.name!r} needs {req!r}, which is not installed")
                    continue
            if spec and version is not None:
                try:
                    from packaging.specifiers import SpecifierSet

                    if version not in SpecifierSet(spec):
                        problems.append(
                            f"step {step.name!r} needs {req!r}, but {name} {version} is installed"
                        )
                except ImportError:  # packaging missing: presence is all we can check
                    pass
                except ValueError:
                    problems.append(f"step {step.name!r}: requirement {req!r} is not understood")
    if problems:
        raise PipelineError(
            "missing requirements, nothing was run:\n  "
            + "\n  ".join(problems)
            + "\ninstall them (pip install ...) and run again"
        )


def check_code_deps(steps: Sequence[Step]) -> None:
    """Fingerprint every step's code up front: a bad ``code_deps`` stops the run before it
    starts, and the cost (about a second, once per process) is not paid mid-run."""
    for step in steps:
        if step.func is None:
            continue
        try:
            code_fingerprint(step.func, step.code_deps)
        except PipelineError as exc:
            raise PipelineError(f"step {step.name!r}: {exc}") from None
