"""What a database failure means: by SQLSTATE code and exception type, never by message text.

:class:`~pushgate.errors.DatabaseNotReady` is worth retrying (refused, timed out, starting up,
shutting down, too many connections, in recovery); :class:`~pushgate.errors.DatabaseConfigError`
is not (bad credentials, unknown database, no privilege). Anything else is not ours to say:
:func:`classify_error` returns None and the caller decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from pg8000.exceptions import DatabaseError, InterfaceError

from pushgate.errors import DatabaseConfigError, DatabaseNotReady, PushgateError

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


def describe_error(exc: BaseException) -> str:
    """What went wrong, for humans: the server's message and SQLSTATE when there is one."""
    code = sqlstate(exc)
    return server_message(exc) + (f" (SQLSTATE {code})" if code else "")


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


@contextmanager
def reraise_classified() -> Iterator[None]:
    """Turn a failure that :func:`classify_error` recognises into its pushgate error (the
    original as its cause); let pushgate's own errors and everything else through unchanged."""
    try:
        yield
    except PushgateError:
        raise  # already decided (its cause may be a network error: do not classify it again)
    except Exception as exc:
        classified = classify_error(exc)
        if classified is None:
            raise
        raise classified from exc
