"""``op.get_context().autocommit_block()``: what it commits, and what a failure leaves.

alembic's ``autocommit_block()`` commits the run's transaction, switches the connection to
SQLAlchemy's ``AUTOCOMMIT`` isolation level (for pg8000, the DBAPI connection's own
``autocommit = True``) and begins a new transaction after the block. With pg8000 one thing
breaks it: alembic first reads the isolation level with a query, and pg8000 (not in autocommit
yet) opens a server transaction for that query, which ``autocommit = True`` does not close, so
``CREATE INDEX CONCURRENTLY`` would still run inside a transaction block. :class:`BlockWatch`
listens to SQLAlchemy's public ``set_connection_execution_options`` event and commits that
read-only transaction (DBAPI ``commit()``) before the switch. pg8000 stays the driver: no
package is added to the layer, and the cold start is unchanged (README, Performance).

What this means for a run (README, "What the Lambda runner accepts"): everything before an
autocommit block is committed when the block starts, so a failure after it cannot roll back to
``from_revision``. The migrator then re-reads the version table and says where the database
really is (:mod:`~pushgate.migrator.transaction`); the run's compensation brings it back. A failed
``CREATE INDEX CONCURRENTLY`` leaves an INVALID index: :func:`drop_new_invalid_indexes` drops
the ones the run left (``DROP INDEX CONCURRENTLY``).
"""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import RevisionStep
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from pushgate.versiontable import quote_ident

_INVALID_INDEXES = text(
    "SELECT n.nspname, c.relname FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT i.indisvalid"
)


class BlockWatch:
    """While installed on a connection: makes pg8000's autocommit real (module docstring) and
    records the revisions whose autocommit block committed the run's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.running: RevisionStep | None = None
        self.committed_in: list[str] = []  # revisions whose autocommit block committed

    def _switching(self, conn: Connection, opts: dict[str, Any]) -> None:
        if opts.get("isolation_level") != "AUTOCOMMIT":
            return
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None:
            dbapi.commit()  # the isolation-level read's transaction
        if self.running is not None:
            self.committed_in.append(self.running.revision.revision)

    def __enter__(self) -> BlockWatch:
        event.listen(self._conn, "set_connection_execution_options", self._switching)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self._conn, "set_connection_execution_options", self._switching)


def invalid_indexes(conn: Connection) -> set[str]:
    """The INVALID indexes of the database, schema-qualified and quoted."""
    rows = conn.execute(_INVALID_INDEXES).all()
    conn.commit()
    return {f"{quote_ident(schema)}.{quote_ident(name)}" for schema, name in rows}


def drop_new_invalid_indexes(conn: Connection, before: set[str]) -> list[str]:
    """Drop the INVALID indexes that were not there ``before`` (a failed CONCURRENTLY build)."""
    left = sorted(invalid_indexes(conn) - before)
    if left:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            for name in left:
                autocommit.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            autocommit.commit()  # SQLAlchemy's autobegun "transaction" (nothing to commit)
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.execution_options(isolation_level=conn.default_isolation_level)
    return left
