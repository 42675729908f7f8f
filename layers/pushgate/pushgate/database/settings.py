"""Where the database is: :class:`DatabaseSettings`, ``DATABASE_URL`` parsing, the tunables.

``DATABASE_URL`` is ``postgresql://``, ``postgres://`` or
``postgresql+pg8000://user:password@host:port/dbname``; the password is percent-decoded.
``DATABASE_CONNECT_TIMEOUT`` (seconds, default :data:`DEFAULT_CONNECT_TIMEOUT_SECONDS`) bounds
the TCP connect, the TLS/auth handshake and each socket read. ``DATABASE_SSLMODE`` (or an
``sslmode`` query parameter of ``DATABASE_URL``) is ``disable``, ``prefer`` (the default) or
``require`` (see :mod:`pushgate.database.connect`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, cast, get_args
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pushgate import settings
from pushgate.errors import DatabaseConfigError, PushgateError

DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 5.0
URL_SCHEMES: Final = frozenset({"postgresql", "postgres", "postgresql+pg8000"})
SslMode = Literal["disable", "prefer", "require"]
DEFAULT_SSLMODE: Final[SslMode] = "prefer"


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """Where the database is. ``repr`` (and so any log line) never shows the password."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    sslmode: SslMode = DEFAULT_SSLMODE

    @property
    def redacted_url(self) -> str:
        """``postgresql://user:***@host:port/database``, safe to log."""
        return (
            f"postgresql://{quote(self.user, safe='')}:***@{self.host}:{self.port}/{self.database}"
        )


def read_positive_number(
    environ: Mapping[str, str],
    name: str,
    default: float,
    error: type[PushgateError] = DatabaseConfigError,
) -> float:
    """The optional tunable ``name`` as a number > 0, or its documented ``default``."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise error(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise error(f"{name} must be > 0, got {raw!r}")
    return value


def read_connect_timeout(environ: Mapping[str, str]) -> float:
    """``DATABASE_CONNECT_TIMEOUT`` as seconds (> 0), or the documented default."""
    return read_positive_number(
        environ, settings.DATABASE_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT_SECONDS
    )


def read_sslmode(raw: str | None, name: str = settings.DATABASE_SSLMODE) -> SslMode:
    """A validated sslmode (``None`` or empty: the default)."""
    value = (raw or "").strip() or DEFAULT_SSLMODE
    if value not in get_args(SslMode):
        raise DatabaseConfigError(
            f"{name} must be one of {', '.join(get_args(SslMode))}, got {value!r}"
        )
    return cast(SslMode, value)


def parse_database_url(
    url: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    sslmode: SslMode = DEFAULT_SSLMODE,
    name: str = settings.DATABASE_URL,
) -> DatabaseSettings:
    """Parse a PostgreSQL URL (the password is percent-decoded). Raises DatabaseConfigError,
    whose message calls the URL ``name`` (where it came from: the variable, an option)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 5432
    except ValueError:
        # never echo the URL: it holds the password
        raise DatabaseConfigError(f"{name} is not a valid URL") from None
    if parts.scheme not in URL_SCHEMES:
        raise DatabaseConfigError(
            f"{name} must start with one of "
            f"{', '.join(sorted(s + '://' for s in URL_SCHEMES))} (got {parts.scheme!r})"
        )
    database = unquote(parts.path.lstrip("/"))
    missing = [
        part
        for part, value in (
            ("host", parts.hostname),
            ("user", parts.username),
            ("database", database),
        )
        if not value
    ]
    if missing:
        raise DatabaseConfigError(f"{name} has no {', '.join(missing)}")
    assert parts.hostname is not None
    assert parts.username is not None
    query = parse_qs(parts.query)
    if "sslmode" in query:
        sslmode = read_sslmode(query["sslmode"][-1], f"the sslmode of {name}")
    return DatabaseSettings(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        database=database,
        connect_timeout=connect_timeout,
        sslmode=sslmode,
    )
