"""What the service is configured with: request limits and API keys.

Keys come from the environment (``STRATA_API_KEYS``, ``STRATA_ADMIN_KEYS``:
comma-separated) or from files (one key per line, ``#`` comments); they are
kept out of every ``repr`` so a logged settings object never shows one.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from topicstrata.errors import ConfigError

__all__ = ["ApiKeys", "Limits", "ServeSettings", "check_bind_host"]

ENV_KEYS: Final = "STRATA_API_KEYS"
ENV_ADMIN_KEYS: Final = "STRATA_ADMIN_KEYS"
ENV_KEYS_FILE: Final = "STRATA_API_KEYS_FILE"
ENV_ADMIN_KEYS_FILE: Final = "STRATA_ADMIN_KEYS_FILE"
#: Shortest key accepted: a guessable key is no protection.
MIN_KEY_CHARS: Final = 16

Role = Literal["user", "admin"]


@dataclass(frozen=True)
class Limits:
    """Per-request limits; exceeding one is a 413 or 422 naming it."""

    max_body_bytes: int = 1_048_576
    max_records: int = 256
    max_field_chars: int = 10_000

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_records", "max_field_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}={value!r} must be a positive integer.")


@dataclass(frozen=True)
class ApiKeys:
    """Bearer keys for the API; admin keys also open the admin routes."""

    keys: tuple[str, ...] = field(default=(), repr=False)
    admin_keys: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for key in (*self.keys, *self.admin_keys):
            if len(key) < MIN_KEY_CHARS or any(c.isspace() for c in key):
                raise ConfigError(
                    f"an API key is shorter than {MIN_KEY_CHARS} characters or holds "
                    "whitespace; generate one with `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'`."
                )

    @property
    def configured(self) -> bool:
        return bool(self.keys or self.admin_keys)

    def role_of(self, presented: str) -> Role | None:
        """The role a presented key grants, compared in constant time against every key."""
        given = presented.encode("utf-8")
        admin = False
        user = False
        for key in self.admin_keys:
            admin |= hmac.compare_digest(given, key.encode("utf-8"))
        for key in self.keys:
            user |= hmac.compare_digest(given, key.encode("utf-8"))
        if admin:
            return "admin"
        return "user" if user else None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        keys_file: str | Path | None = None,
        admin_keys_file: str | Path | None = None,
    ) -> ApiKeys:
        """Keys from ``STRATA_API_KEYS`` / ``STRATA_ADMIN_KEYS`` and from key files."""
        env = os.environ if environ is None else environ
        keys = _split(env.get(ENV_KEYS, ""))
        admin = _split(env.get(ENV_ADMIN_KEYS, ""))
        keys_file = keys_file or env.get(ENV_KEYS_FILE) or None
        admin_keys_file = admin_keys_file or env.get(ENV_ADMIN_KEYS_FILE) or None
        if keys_file:
            keys += _read_keys(Path(keys_file))
        if admin_keys_file:
            admin += _read_keys(Path(admin_keys_file))
        return cls(keys=tuple(dict.fromkeys(keys)), admin_keys=tuple(dict.fromkeys(admin)))


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``create_app`` needs besides the model source."""

    limits: Limits = field(default_factory=Limits)
    keys: ApiKeys = field(default_factory=ApiKeys)
    allow_unapproved: bool = False
    tracking_uri: str | None = None
    #: Reload on SIGHUP (only the CLI's server process sets it).
    reload_on_sighup: bool = False


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _read_keys(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the API key file {path}: {exc.strerror or exc}.") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_host(host: str, keys: ApiKeys, insecure: bool) -> None:
    """Without API keys the service may listen on loopback only, unless told ``insecure``."""
    if keys.configured or insecure or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host} without API keys: anyone who can reach it could use "
        f"the model. Set {ENV_KEYS} (and {ENV_ADMIN_KEYS} for reloads), or listen on "
        "127.0.0.1, or pass --insecure if something in front of it authenticates callers."
    )
