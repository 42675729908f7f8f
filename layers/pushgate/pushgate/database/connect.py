"""Open pg8000 connections: the connect timeout, TLS (``prefer``/``require``), classified errors.

TLS: ``disable``, ``prefer`` (the default, as libpq: TLS when the server offers it) or
``require``. The server's certificate is not verified (libpq's ``require`` semantics). With
``prefer``, a server that refuses TLS is remembered for the process, so later connections skip
the TLS request. With ``require``, a server that answers the TLS request with "no" is a
DatabaseConfigError (retrying cannot change its answer); any other failure to connect is
DatabaseNotReady or DatabaseConfigError (:mod:`pushgate.database.classify`). :func:`connected`
is the whole round: connect, set the search_path, classify the block's failures, close.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import pg8000.dbapi
import pg8000.native
from pg8000.exceptions import InterfaceError

from pushgate import settings
from pushgate.database.classify import reraise_classified
from pushgate.database.settings import DatabaseSettings
from pushgate.errors import DatabaseConfigError

_C = TypeVar("_C")
# PostgreSQL's SSLRequest: Int32 length 8, Int32 80877103; the server answers one byte, S or N
# (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL)
_SSL_REQUEST: Final = struct.pack("!ii", 8, 80877103)
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

    with reraise_classified():
        if db.sslmode == "disable" or (
            db.sslmode == "prefer" and (db.host, db.port) in _plain_servers
        ):
            return attempt(False)
        try:
            return attempt(_no_verify_tls())
        except InterfaceError as exc:
            # pg8000 raises a bare InterfaceError (no cause) when the server refuses TLS (or
            # closed the connection instead of answering); socket-level failures always carry
            # their OSError as the cause.
            if exc.__cause__ is not None:
                raise
            if db.sslmode == "require":
                _refuse_if_server_declines_tls(db)
                raise
            if db.sslmode != "prefer":
                raise
        connection = attempt(False)
        _plain_servers.add((db.host, db.port))
        return connection


def _refuse_if_server_declines_tls(db: DatabaseSettings) -> None:
    """DatabaseConfigError when the server, asked again, really answers "no TLS" (N); return
    when it answers anything else or cannot be asked (then the failure was not TLS's)."""
    try:
        with socket.create_connection((db.host, db.port), timeout=db.connect_timeout) as sock:
            sock.sendall(_SSL_REQUEST)
            answer = sock.recv(1)
    except OSError:
        return
    if answer == b"N":
        raise DatabaseConfigError(
            f"sslmode is require ({settings.DATABASE_SSLMODE} or the URL's sslmode), but the "
            f"server at {db.host}:{db.port} does not offer TLS: enable TLS on the server or "
            "choose another sslmode"
        )


def connect(db: DatabaseSettings, application_name: str = "pushgate") -> pg8000.native.Connection:
    """A pg8000 native connection, or DatabaseNotReady / DatabaseConfigError."""
    return _open(pg8000.native.Connection, db, application_name)


def connect_dbapi(
    db: DatabaseSettings, application_name: str = "pushgate"
) -> pg8000.dbapi.Connection:
    """A pg8000 DB-API connection (for SQLAlchemy's ``creator``), errors as :func:`connect`."""
    return _open(pg8000.dbapi.Connection, db, application_name)


@contextlib.contextmanager
def connected(
    db: DatabaseSettings, set_search_path_sql: str | None = None
) -> Iterator[pg8000.native.Connection]:
    """A :func:`connect` connection with ``set_search_path_sql`` run first (when not None), the
    block's failures classified (:func:`reraise_classified`), closed on exit (without COMMIT:
    an open transaction rolls back; a broken connection's failing close is ignored)."""
    con = connect(db)
    try:
        with reraise_classified():
            if set_search_path_sql is not None:
                con.run(set_search_path_sql)
            yield con
    finally:
        with contextlib.suppress(Exception):  # closing a broken connection may fail
            con.close()
