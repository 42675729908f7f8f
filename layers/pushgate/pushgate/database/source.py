"""Where a handler's database settings come from, validated once at cold start.

Exactly one place: ``DATABASE_URL`` (locally and in tests) or ``DATABASE_SECRET_ARN`` (in AWS,
see :mod:`pushgate.database.secret`). When both are set, ``DATABASE_URL`` wins (a local override
of the deployed configuration).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from pushgate import settings
from pushgate.database.secret import fetch_secret_settings
from pushgate.database.settings import (
    DEFAULT_SSLMODE,
    DatabaseSettings,
    SslMode,
    parse_database_url,
    read_connect_timeout,
    read_sslmode,
)
from pushgate.errors import DatabaseConfigError

_T = TypeVar("_T")


@dataclass(frozen=True)
class DatabaseSource:
    """Where the settings come from (see the module docstring)."""

    url_settings: DatabaseSettings | None
    secret_arn: str | None
    connect_timeout: float
    sslmode: SslMode = DEFAULT_SSLMODE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DatabaseSource:
        env = os.environ if environ is None else environ
        connect_timeout = read_connect_timeout(env)
        sslmode = read_sslmode(env.get(settings.DATABASE_SSLMODE))
        url = env.get(settings.DATABASE_URL, "").strip()
        if url:
            parsed = parse_database_url(url, connect_timeout=connect_timeout, sslmode=sslmode)
            return cls(parsed, None, connect_timeout, sslmode)
        arn = env.get(settings.DATABASE_SECRET_ARN, "").strip()
        if arn:
            return cls(None, arn, connect_timeout, sslmode)
        raise DatabaseConfigError(
            f"no database configured: set {settings.DATABASE_SECRET_ARN} (in AWS) "
            f"or {settings.DATABASE_URL} (locally)"
        )

    @property
    def description(self) -> str:
        """Where the settings come from, safe to log."""
        if self.url_settings is not None:
            return f"{settings.DATABASE_URL} ({self.url_settings.redacted_url})"
        return f"{settings.DATABASE_SECRET_ARN} ({self.secret_arn})"

    def settings(self, *, force_fetch: bool = False) -> DatabaseSettings:
        """The current settings (the secret is fetched, or taken from Powertools' cache)."""
        if self.url_settings is not None:
            return self.url_settings
        assert self.secret_arn is not None
        return fetch_secret_settings(
            self.secret_arn,
            connect_timeout=self.connect_timeout,
            sslmode=self.sslmode,
            force_fetch=force_fetch,
        )


def with_settings(source: DatabaseSource, work: Callable[[DatabaseSettings], _T]) -> _T:
    """Run ``work`` with the current settings. When they come from a secret and are rejected
    (DatabaseConfigError: e.g. the password was rotated since Powertools cached the secret),
    fetch the secret again, bypassing the cache, and retry once if it changed. A rejected
    connection has done nothing, so the retry is safe."""
    current = source.settings()
    try:
        return work(current)
    except DatabaseConfigError:
        if source.secret_arn is None:
            raise
        fresh = source.settings(force_fetch=True)
        if fresh == current:
            raise
    return work(fresh)


def load_database_source(
    environ: Mapping[str, str] | None = None,
) -> DatabaseSource | DatabaseConfigError:
    """For a handler's cold start: the source, or the error to raise on every invocation."""
    try:
        return DatabaseSource.from_env(environ)
    except DatabaseConfigError as exc:
        return exc
