"""Database settings and connections: where the database is, how to reach it, what went wrong.

Settings come from exactly one place:

- ``DATABASE_URL`` (locally and in tests): ``postgresql://``, ``postgres://`` or
  ``postgresql+pg8000://user:password@host:port/dbname``; the password is percent-decoded.
- ``DATABASE_SECRET_ARN`` (in AWS): a Secrets Manager secret in the RDS JSON format
  (``host``, ``port``, ``username``, ``password``, ``dbname``), fetched with Powertools'
  ``get_secret`` and cached for :data:`SECRET_MAX_AGE_SECONDS`.

When both are set, ``DATABASE_URL`` wins (a local override of the deployed configuration).
``DATABASE_CONNECT_TIMEOUT`` (seconds, default :data:`DEFAULT_CONNECT_TIMEOUT_SECONDS`) bounds
the TCP connect, the TLS/auth handshake and each socket read.

TLS: ``DATABASE_SSLMODE`` (or an ``sslmode`` query parameter of ``DATABASE_URL``) is ``disable``,
``prefer`` (the default, as libpq: TLS when the server offers it) or ``require``. The server's
certificate is not verified (libpq's ``require`` semantics). With ``prefer``, a server that
refuses TLS is remembered for the process, so later connections skip the TLS request.

Errors are classified by SQLSTATE code and exception type, never by message text:
:class:`~pushgate.errors.DatabaseNotReady` is worth retrying (refused, timed out, starting up,
shutting down, too many connections, in recovery); :class:`~pushgate.errors.DatabaseConfigError`
is not (bad credentials, unknown database, missing or malformed settings or secret).

This module must stay light: ``check_database`` imports it and must not pay for alembic or
SQLAlchemy, so neither is imported here.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar, cast, get_args
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pg8000.dbapi
import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from pushgate import settings
from pushgate.errors import DatabaseConfigError, DatabaseNotReady, PushgateError

DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 5.0
SECRET_MAX_AGE_SECONDS: Final = 300
URL_SCHEMES: Final = frozenset({"postgresql", "postgres", "postgresql+pg8000"})
SECRET_KEYS: Final = ("host", "port", "username", "password", "dbname")
SslMode = Literal["disable", "prefer", "require"]
DEFAULT_SSLMODE: Final[SslMode] = "prefer"

# SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_NOT_READY_CLASSES: Final = ("08", "53")  # connection exception, insufficient resources
_NOT_READY_CODES: Final = frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: the database system is starting up / in recovery
        "57P05",  # idle_session_timeout
        "25006",  # read_only_sql_transaction: we reached a replica
    }
)
_CONFIG_CLASSES: Final = ("28",)  # invalid authorization: bad password, no pg_hba.conf entry
_CONFIG_CODES: Final = frozenset(
    {
        "3D000",  # invalid_catalog_name: unknown database
        "42501",  # insufficient_privilege (e.g. no CONNECT on the database)
    }
)
# Secrets Manager failures worth retrying (everything else about the secret is final)
_TRANSIENT_AWS_CODES: Final = frozenset(
    {"ThrottlingException", "InternalServiceError", "RequestLimitExceeded", "ServiceUnavailable"}
)


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
) -> DatabaseSettings:
    """Parse a PostgreSQL URL (the password is percent-decoded). Raises DatabaseConfigError."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 5432
    except ValueError:
        # never echo the URL: it holds the password
        raise DatabaseConfigError(f"{settings.DATABASE_URL} is not a valid URL") from None
    if parts.scheme not in URL_SCHEMES:
        raise DatabaseConfigError(
            f"{settings.DATABASE_URL} must start with one of "
            f"{', '.join(sorted(s + '://' for s in URL_SCHEMES))} (got {parts.scheme!r})"
        )
    database = unquote(parts.path.lstrip("/"))
    missing = [
        name
        for name, value in (
            ("host", parts.hostname),
            ("user", parts.username),
            ("database", database),
        )
        if not value
    ]
    if missing:
        raise DatabaseConfigError(f"{settings.DATABASE_URL} has no {', '.join(missing)}")
    assert parts.hostname is not None
    assert parts.username is not None
    query = parse_qs(parts.query)
    if "sslmode" in query:
        sslmode = read_sslmode(query["sslmode"][-1], f"the sslmode of {settings.DATABASE_URL}")
    return DatabaseSettings(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        database=database,
        connect_timeout=connect_timeout,
        sslmode=sslmode,
    )


def settings_from_secret(
    secret: Any,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    sslmode: SslMode = DEFAULT_SSLMODE,
) -> DatabaseSettings:
    """Settings from an RDS-format secret (a JSON object). Raises DatabaseConfigError."""
    if not isinstance(secret, Mapping):
        raise DatabaseConfigError("the database secret is not a JSON object")
    missing = [key for key in SECRET_KEYS if secret.get(key) in (None, "")]
    if missing:
        raise DatabaseConfigError(f"the database secret has no {', '.join(missing)}")
    try:
        port = int(secret["port"])
    except (TypeError, ValueError):
        raise DatabaseConfigError("the database secret's port is not a number") from None
    return DatabaseSettings(
        host=str(secret["host"]),
        port=port,
        user=str(secret["username"]),
        password=str(secret["password"]),
        database=str(secret["dbname"]),
        connect_timeout=connect_timeout,
        sslmode=sslmode,
    )


def _aws_error_is_transient(exc: BaseException) -> bool:
    """Whether a Powertools parameters error was caused by a passing AWS problem."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionError | HTTPClientError):
            return True
        if isinstance(seen, ClientError):
            return seen.response.get("Error", {}).get("Code") in _TRANSIENT_AWS_CODES
        seen = seen.__cause__ or seen.__context__
    return False


def fetch_secret_settings(
    arn: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    sslmode: SslMode = DEFAULT_SSLMODE,
    force_fetch: bool = False,
) -> DatabaseSettings:
    """Settings from the Secrets Manager secret ``arn`` (cached by Powertools)."""
    from aws_lambda_powertools.utilities import parameters

    # botocore logs every response body at DEBUG: GetSecretValue's holds the password. With the
    # function's log level at DEBUG (troubleshooting), that would put it in CloudWatch.
    logging.getLogger("botocore.parsers").setLevel(logging.INFO)
    try:
        secret = parameters.get_secret(
            arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force_fetch
        )
    except parameters.exceptions.TransformParameterError:
        raise DatabaseConfigError("the database secret is not valid JSON") from None
    except parameters.exceptions.GetParameterError as exc:
        if _aws_error_is_transient(exc):
            raise DatabaseNotReady(f"Secrets Manager is not answering: {exc}") from exc
        raise DatabaseConfigError(f"cannot read the database secret: {exc}") from exc
    return settings_from_secret(secret, connect_timeout=connect_timeout, sslmode=sslmode)


@dataclass(frozen=True)
class DatabaseSource:
    """Where the settings come from, validated at cold start (see the module docstring)."""

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


_T = TypeVar("_T")


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


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it wraps: SQLAlchemy's ``orig``, else the cause or context (a few)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return
        yield seen
        orig = getattr(seen, "orig", None)  # sqlalchemy.exc.DBAPIError
        seen = orig if isinstance(orig, BaseException) else (seen.__cause__ or seen.__context__)


def _server_error(exc: BaseException) -> dict[str, Any] | None:
    """The fields of the server's ErrorResponse that ``exc`` carries (pg8000 keys them by
    protocol letter: ``C`` SQLSTATE, ``M`` message), if any."""
    for seen in _causes(exc):
        if isinstance(seen, DatabaseError) and seen.args and isinstance(seen.args[0], dict):
            return seen.args[0]
    return None


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a pg8000 error (or of the pg8000 error a SQLAlchemy error wraps)."""
    fields = _server_error(exc)
    code = fields.get("C") if fields is not None else None
    return code if isinstance(code, str) else None


def server_message(exc: BaseException) -> str:
    """The server's message of a pg8000 error, for humans (never used to classify)."""
    fields = _server_error(exc)
    if fields is not None and fields.get("M"):
        return str(fields["M"])
    return f"{type(exc).__name__}: {exc}"


def classify_error(exc: BaseException) -> DatabaseNotReady | DatabaseConfigError | None:
    """The pushgate error a connection or readiness failure means, or None (not ours to say).

    By SQLSTATE first; then by type: a pg8000 InterfaceError or an OSError (refused, reset,
    timed out, name not resolved) means the server cannot be reached yet.
    """
    code = sqlstate(exc)
    if code is not None:
        message = f"{server_message(exc)} (SQLSTATE {code})"
        if code in _CONFIG_CODES or code.startswith(_CONFIG_CLASSES):
            return DatabaseConfigError(message)
        if code in _NOT_READY_CODES or code.startswith(_NOT_READY_CLASSES):
            return DatabaseNotReady(message)
        return None
    for seen in _causes(exc):
        if isinstance(seen, InterfaceError | OSError):
            cause = seen.__cause__ or seen.__context__
            detail = f"{type(cause).__name__}: {cause}" if cause else f"{seen}"
            return DatabaseNotReady(f"cannot reach the database: {seen} ({detail})")
    return None


_C = TypeVar("_C")
_plain_servers: set[tuple[str, int]] = set()  # (host, port) that refused TLS under "prefer"
_tls_context: ssl.SSLContext | None = None


def _no_verify_tls() -> ssl.SSLContext:
    """One TLS context for the process (building one loads the CA store: ~20 ms)."""
    global _tls_context
    if _tls_context is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # libpq "require": encrypted, not verified
        _tls_context = context
    return _tls_context


def _open(factory: Callable[..., _C], db: DatabaseSettings, application_name: str) -> _C:
    def attempt(tls: ssl.SSLContext | bool) -> _C:
        return factory(
            user=db.user,
            password=db.password,
            host=db.host,
            port=db.port,
            database=db.database,
            timeout=db.connect_timeout,
            application_name=application_name,
            ssl_context=tls,
        )

    try:
        if db.sslmode == "disable" or (
            db.sslmode == "prefer" and (db.host, db.port) in _plain_servers
        ):
            return attempt(False)
        try:
            return attempt(_no_verify_tls())
        except InterfaceError as exc:
            # pg8000 raises a bare InterfaceError (no cause) when the server refuses TLS;
            # socket-level failures always carry their OSError as the cause.
            if db.sslmode != "prefer" or exc.__cause__ is not None:
                raise
        connection = attempt(False)
        _plain_servers.add((db.host, db.port))
        return connection
    except Exception as exc:
        classified = classify_error(exc)
        if classified is None:
            raise
        raise classified from exc


def connect(db: DatabaseSettings, application_name: str = "pushgate") -> pg8000.native.Connection:
    """A pg8000 native connection, or DatabaseNotReady / DatabaseConfigError."""
    return _open(pg8000.native.Connection, db, application_name)


def connect_dbapi(
    db: DatabaseSettings, application_name: str = "pushgate"
) -> pg8000.dbapi.Connection:
    """A pg8000 DB-API connection (for SQLAlchemy's ``creator``), errors as :func:`connect`."""
    return _open(pg8000.dbapi.Connection, db, application_name)
