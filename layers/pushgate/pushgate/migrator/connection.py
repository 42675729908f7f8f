"""The migration's connection and its advisory lock.

One connection (pg8000 through SQLAlchemy, ``NullPool``), opened with the short connect
timeout; its socket is then given a read timeout of ``statement_timeout`` + connect timeout.
A PostgreSQL *session* advisory lock on :data:`MIGRATION_LOCK_KEY` (per database) keeps two runs
from migrating at once: ``pg_try_advisory_lock`` polled with jitter for at most
``MIGRATION_LOCK_WAIT_SECONDS`` (and never past the deadline), else ``MigrationLockTimeout``.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from aws_lambda_powertools import Logger
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from pushgate.database import DatabaseSettings, connect_dbapi, reraise_classified
from pushgate.errors import MigrationLockTimeout, SchemaDrift
from pushgate.migrator.environment import read_current_heads
from pushgate.migrator.private import set_read_timeout
from pushgate.versiontable import VersionTable

MIGRATION_LOCK_KEY: Final = int.from_bytes(b"pushgate", "big")  # 8103509996771308645
LOCK_POLL_SECONDS: Final = 0.25  # advisory lock polling interval (plus up to 50% jitter)


@functools.cache
def logger() -> Logger:
    """The service's logger (created on first use: the service name is read from the env)."""
    return Logger(child=True)


class Connections:
    """Opens the migration's connections: one engine per settings, kept for the process (its
    dialect initialisation, a few queries, runs once, not once per invocation)."""

    def __init__(self, statement_timeout_ms: int, table: VersionTable) -> None:
        self._statement_timeout_ms = statement_timeout_ms
        self._table = table
        self._engines: dict[DatabaseSettings, Engine] = {}

    def _engine(self, db: DatabaseSettings) -> Engine:
        engine = self._engines.get(db)
        if engine is None:
            # the URL only names the dialect and driver (no credentials): pushgate.database
            # opens the connection itself (TLS mode, connect timeout, errors classified as
            # DatabaseNotReady/DatabaseConfigError).
            engine = create_engine(
                URL.create("postgresql+pg8000"),
                poolclass=NullPool,
                creator=lambda: connect_dbapi(db, "pushgate-migrations"),
            )
            self._engines = {db: engine}  # settings changed (secret rotated): drop the old one
        return engine

    @contextmanager
    def open(self, db: DatabaseSettings) -> Iterator[Connection]:
        """A connection (DatabaseNotReady/DatabaseConfigError when there is none) with the
        version table's search_path set, closed on exit with any transaction still open rolled
        back."""
        with reraise_classified():
            conn = self._engine(db).connect()
        try:
            # a statement may legitimately run for statement_timeout: only then is it dead
            read_timeout = self._statement_timeout_ms / 1000 + db.connect_timeout
            if not set_read_timeout(conn.connection.dbapi_connection, read_timeout):
                logger().warning("cannot set the socket read timeout (pg8000 changed?)")
            if self._table.set_search_path_sql is not None:
                with reraise_classified():
                    conn.exec_driver_sql(self._table.set_search_path_sql)
                    conn.commit()
            yield conn
        finally:
            try:
                if conn.in_transaction():
                    conn.rollback()
            except Exception:  # a broken connection: closing it is all that is left
                logger().warning("could not roll back the connection cleanly", exc_info=True)
            finally:
                conn.close()


@contextmanager
def advisory_lock(conn: Connection, wait_seconds: float, stop_at: float | None) -> Iterator[None]:
    """Hold the migration lock for the block (see the module docstring); released on exit
    (a failure to release is logged: the session's locks go with it anyway)."""
    _acquire(conn, wait_seconds, stop_at)
    try:
        yield
    finally:
        if not conn.invalidated:  # a lost connection's session takes its locks with it
            _release(conn)


def _release(conn: Connection) -> None:
    try:
        if conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.commit()
    except Exception:
        logger().warning("could not release the migration lock cleanly", exc_info=True)


def _acquire(conn: Connection, wait_seconds: float, stop_at: float | None) -> None:
    started = time.monotonic()
    give_up = started + wait_seconds
    if stop_at is not None:
        give_up = min(give_up, stop_at)
    attempts = 0
    while True:
        attempts += 1
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        ).scalar()
        if got:
            if attempts > 1:
                logger().info(
                    "migration lock acquired after waiting",
                    extra={"waited_s": round(time.monotonic() - started, 3)},
                )
            return
        now = time.monotonic()
        if now >= give_up:
            raise MigrationLockTimeout(
                f"another run holds the migration lock (advisory lock {MIGRATION_LOCK_KEY}); "
                f"gave up after {now - started:.1f} s; nothing done"
            )
        if attempts == 1:
            logger().info("waiting for the migration lock held by another run")
        pause = LOCK_POLL_SECONDS * (1 + random.random() / 2)  # noqa: S311 - jitter
        time.sleep(max(0.0, min(pause, give_up - now)))


def current_revision(conn: Connection, table: VersionTable) -> str | None:
    """The revision in the version table (None: base). SchemaDrift when it holds several."""
    heads = read_current_heads(conn, table)
    if len(heads) > 1:
        raise SchemaDrift(f"the database has several current revisions: {', '.join(heads)}")
    return heads[0] if heads else None
