"""The database lock's row: where it lives, how it is taken, re-entered, taken over, released.

The table ``pushgate_deploy_lock`` lives in the version table's schema (where the version table
is, or where alembic will create it: ``VERSION_TABLE_SCHEMA``, else the schema the search_path
finds it in, else ``current_schema()``). The first run creates it (``IF NOT EXISTS``): it needs
no privilege beyond the one alembic already needs there. One row per version table:

``lock_key`` (``<schema>.<version table>``, primary key), ``owner`` (the holding execution's
ARN), ``service`` (its ``<cluster>/<service>``), ``taken_at``, ``expires_at`` (``taken_at`` +
the owner's hold bound, by the database's clock).

Runs that share a revision history share the key, so they serialize, whichever stack they
belong to. Everything happens in the caller's transaction (the one that reads the revision),
behind a transaction-level advisory lock on the key, so two first runs cannot both create the
table and two waiting runs cannot both take one lock over.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypedDict

import pg8000.native
from pg8000.exceptions import DatabaseError

from pushgate.database import (
    DatabaseSettings,
    classify_error,
    connected,
    describe_error,
    sqlstate,
)
from pushgate.dblock.claim import ExecutionArn, LockClaim
from pushgate.dblock.owner import OwnerLook, look_at_owner
from pushgate.errors import (
    DatabaseConfigError,
    DatabaseLockHeld,
    DatabaseLockTimeout,
    DatabaseNotReady,
)
from pushgate.lockwait import still_held
from pushgate.versiontable import VersionTable, quote_ident

LOCK_TABLE: Final = "pushgate_deploy_lock"

_LOCK_NOT_AVAILABLE: Final = "55P03"
_WHERE_SQL: Final = (
    "SELECT (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = to_regclass(:version_table)), current_schema()"
)
_SCHEMA_EXISTS_SQL: Final = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :schema)"
_COLUMNS: Final = (
    "(lock_key text PRIMARY KEY, owner text NOT NULL, service text NOT NULL, "
    "taken_at timestamptz NOT NULL, expires_at timestamptz NOT NULL)"
)

OwnerLookup = Callable[[str, ExecutionArn], OwnerLook]


class LockTaken(TypedDict):
    """What "Check database" answers of the database lock it took."""

    key: str  # <schema>.<version table>
    reentered: bool  # this execution held it already (a redrive)
    taken_over: str | None  # the execution whose lock this run took over, if any


@dataclass(frozen=True)
class LockPlace:
    """Where the lock of one version table is kept."""

    schema: str
    key: str

    @property
    def table(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(LOCK_TABLE)}"

    @property
    def advisory_key(self) -> int:
        """A stable 64-bit key of this lock (pg_advisory_xact_lock's bigint space)."""
        digest = hashlib.blake2b(f"{LOCK_TABLE}:{self.key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


@contextlib.contextmanager
def _lock_table_errors(place: LockPlace | None, row_wait_ms: int = 0) -> Iterator[None]:
    """A database error the readiness classification does not know, raised by the lock's own
    SQL, becomes a typed error that names the lock table."""
    try:
        yield
    except DatabaseError as exc:
        if classify_error(exc) is not None:
            raise
        where = place.table if place is not None else f"the {LOCK_TABLE} table"
        if sqlstate(exc) == _LOCK_NOT_AVAILABLE:
            raise DatabaseNotReady(
                f"the row of {where} stayed locked for {row_wait_ms} ms: {describe_error(exc)}"
            ) from exc
        raise DatabaseConfigError(f"{where} cannot be used: {describe_error(exc)}") from exc


def lock_place(con: pg8000.native.Connection, version_table: VersionTable) -> LockPlace:
    """Where ``version_table``'s lock lives; DatabaseConfigError when there is no such schema."""
    with _lock_table_errors(None):
        found, current = con.run(_WHERE_SQL, version_table=version_table.qualified)[0]
        schema = version_table.schema or found or current
        if not schema:
            raise DatabaseConfigError(
                f"no schema for the version table {version_table.describe()}: the search_path "
                "names no schema that exists"
            )
        if not con.run(_SCHEMA_EXISTS_SQL, schema=schema)[0][0]:
            raise DatabaseConfigError(
                f"the version table's schema {schema} does not exist: create it (alembic "
                "needs it as well)"
            )
    return LockPlace(schema=str(schema), key=f"{schema}.{version_table.name}")


def take_lock(
    con: pg8000.native.Connection,
    place: LockPlace,
    claim: LockClaim,
    *,
    row_wait_ms: int,
    look: OwnerLookup = look_at_owner,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LockTaken:
    """Take the lock for ``claim.owner`` in the caller's transaction (free, ours: re-entered, or
    an ended owner's: taken over); DatabaseLockHeld or DatabaseLockTimeout while another
    execution holds it. A row (or the key's advisory lock) that another session keeps locked is
    waited for ``row_wait_ms`` at most (``lock_timeout``: less than the connection's read
    timeout, so the server's answer comes first), then DatabaseNotReady."""
    with _lock_table_errors(place, row_wait_ms):
        con.run(f"SET LOCAL lock_timeout = {int(row_wait_ms)}")
        con.run("SELECT pg_advisory_xact_lock(:key)", key=place.advisory_key)
        con.run(f"CREATE TABLE IF NOT EXISTS {place.table} {_COLUMNS}")
        rows = con.run(
            f"SELECT owner, service, taken_at, expires_at, now() >= expires_at "
            f"FROM {place.table} WHERE lock_key = :key FOR UPDATE",
            key=place.key,
        )
        taken_over: str | None = None
        if rows:
            owner, service, taken_at, expires_at, expired = rows[0]
            if owner != claim.owner.arn:
                seen = look(str(owner), claim.owner)
                if seen.state == "running" or (seen.state == "unknown" and not expired):
                    held = (
                        f"the database lock of {place.key} is held by {owner} ({service}, taken "
                        f"at {_shown(taken_at)}): {seen.how}"
                    )
                    if seen.state == "unknown":
                        held += f"; it is held until it expires at {_shown(expires_at)}"
                    raise _still_held(held, claim, clock())
                taken_over = str(owner)
        con.run(
            f"INSERT INTO {place.table} AS held (lock_key, owner, service, taken_at, expires_at) "
            "VALUES (:key, :owner, :service, now(), now() + make_interval(secs => :hold)) "
            "ON CONFLICT (lock_key) DO UPDATE SET owner = excluded.owner, "
            "service = excluded.service, expires_at = excluded.expires_at, taken_at = CASE "
            "WHEN held.owner = excluded.owner THEN held.taken_at ELSE excluded.taken_at END",
            key=place.key,
            owner=claim.owner.arn,
            service=claim.service,
            hold=claim.hold_seconds,
        )
    reentered = bool(rows) and taken_over is None
    return LockTaken(key=place.key, reentered=reentered, taken_over=taken_over)


def release_lock(con: pg8000.native.Connection, place: LockPlace, owner: ExecutionArn) -> bool:
    """Delete the row ``owner`` holds (only that one); whether there was one."""
    with _lock_table_errors(place):
        (exists,) = con.run("SELECT to_regclass(:table) IS NOT NULL", table=place.table)[0]
        if not exists:
            return False
        deleted = con.run(
            f"DELETE FROM {place.table} WHERE lock_key = :key AND owner = :owner "
            "RETURNING lock_key",
            key=place.key,
            owner=owner.arn,
        )
    return bool(deleted)


def _shown(moment: object) -> str:
    return moment.isoformat() if isinstance(moment, datetime) else str(moment)


def _still_held(held: str, claim: LockClaim, now: datetime) -> Exception:
    """DatabaseLockHeld, or DatabaseLockTimeout once this run's lock wait is over."""
    waited = (now - claim.started_at).total_seconds()
    return still_held(
        held, waited, claim.wait_seconds, retry=DatabaseLockHeld, timeout=DatabaseLockTimeout
    )


class Released(TypedDict):
    """What "Release the database lock" answers."""

    key: str
    released: bool  # False: this execution held no row (never took it, or it was taken over)


def release_database_lock(
    db: DatabaseSettings, version_table: VersionTable, owner: ExecutionArn
) -> Released:
    """Connect and delete the row ``owner`` holds of ``version_table``'s lock, if any."""
    with connected(db, version_table.set_search_path_sql) as con:
        place = lock_place(con, version_table)
        released = release_lock(con, place, owner)
    return Released(key=place.key, released=released)
