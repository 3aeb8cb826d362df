"""What the studio is started with: the root it reads, its access token, its CSRF secret."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from topicstrata.registry import resolve_tracking_uri

__all__ = ["StudioSettings"]


@dataclass(frozen=True)
class StudioSettings:
    """Built once per app; the token and the CSRF secret are kept out of ``repr``."""

    root: Path
    token: str | None = field(default=None, repr=False)
    tracking_uri: str | None = None
    #: Per-app secret put in every form; a POST without it is refused (403).
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    @property
    def resolved_tracking_uri(self) -> str:
        """The registry's URI: the argument, the environment, else ``<root>/.strata/mlflow.db``."""
        return resolve_tracking_uri(self.tracking_uri, self.root)
