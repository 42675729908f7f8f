"""Is the database ready to be migrated? (the ``check_database`` Lambda's work)

Connects with pg8000 (short timeout), runs one trivial query, requires a writer
(``pg_is_in_recovery()`` false), reads the alembic revision when the version table exists and
reports the round-trip latency. Given a :class:`~pushgate.dblock.LockClaim`, it takes the
database lock (`pushgate.dblock`) in the same transaction that reads the revision, after the
writer check, so a run's starting revision is read under its own lock. The version table is
the one ``run_migrations`` writes (:class:`~pushgate.versiontable.VersionTable`: its name,
schema and search_path). Imports neither alembic nor SQLAlchemy (nor boto3, but on the lock's
takeover path).
"""

from __future__ import annotations

import time
from typing import Final, NotRequired, TypedDict

from pushgate.database import DatabaseSettings, connected
from pushgate.dblock import LockClaim, LockTaken, lock_place, take_lock
from pushgate.errors import DatabaseNotReady
from pushgate.versiontable import VersionTable

_PROBE_SQL: Final = (
    "SELECT current_setting('server_version'), pg_is_in_recovery(), "
    "to_regclass(:version_table) IS NOT NULL"
)


class Readiness(TypedDict):
    """The ``check_database`` contract (docs/design.md, Contracts)."""

    ready: bool
    server_version: str
    in_recovery: bool
    revision: str | None
    latency_ms: float
    database_lock: NotRequired[LockTaken]  # when asked to take it


def check_database(
    db: DatabaseSettings, version_table: VersionTable | None = None, claim: LockClaim | None = None
) -> Readiness:
    """Probe the database; the revision is read from ``version_table`` (default: alembic's),
    under the database lock when ``claim`` asks for it. Raises DatabaseNotReady (retryable),
    DatabaseConfigError, DatabaseLockHeld (retryable) or DatabaseLockTimeout."""
    table = version_table or VersionTable()
    started = time.perf_counter()
    lock: LockTaken | None = None
    with connected(db, table.set_search_path_sql) as con:
        if claim is not None:
            con.run("START TRANSACTION")  # closing without COMMIT rolls it all back
        rows = con.run(_PROBE_SQL, version_table=table.qualified)
        server_version, in_recovery, has_version_table = rows[0]
        if in_recovery:
            raise _in_recovery(db)
        if claim is not None:
            lock = take_lock(con, lock_place(con, table), claim, row_wait_ms=row_wait_ms(db))
        revisions = (
            [
                row[0]
                for row in con.run(
                    f"SELECT version_num FROM {table.qualified} ORDER BY version_num"
                )
            ]
            if has_version_table
            else []
        )
        if claim is not None:
            con.run("COMMIT")
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    readiness = Readiness(
        ready=True,
        server_version=str(server_version),
        in_recovery=False,
        # several rows only with branched histories: report them all, comma-separated
        revision=",".join(revisions) if revisions else None,
        latency_ms=latency_ms,
    )
    if lock is not None:
        readiness["database_lock"] = lock
    return readiness


def row_wait_ms(db: DatabaseSettings) -> int:
    """How long the database lock's row may stay locked by another session: half the
    connection's read timeout (``DATABASE_CONNECT_TIMEOUT``), so PostgreSQL says so first."""
    return max(1, int(db.connect_timeout * 500))


def _in_recovery(db: DatabaseSettings) -> DatabaseNotReady:
    return DatabaseNotReady(
        f"the database at {db.host}:{db.port} is in recovery (a read-only replica, or a "
        "failover in progress); migrations need the writer"
    )
