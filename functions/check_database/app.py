"""Lambda ``check_database``: is the database ready to be migrated?

Event: anything (the execution input is fine). Returns the contract of docs/design.md
``{"ready", "server_version", "in_recovery", "revision", "latency_ms"}``, and ``snapshot_name``
when the event has ``{"push": {"digest"}, "snapshot": {"service", "started_at"}}`` (the name of
the snapshot the run may take before it migrates, `pushgate.snapshot.naming`), and
``database_lock`` ``{"key", "reentered", "taken_over"}`` when the event has ``database_lock``
``{"owner", "service", "started_at", "wait_seconds", "hold_seconds"}`` (the lock is taken in the
transaction that reads the revision, `pushgate.dblock`); raises ``DatabaseNotReady`` and
``DatabaseLockHeld`` (retryable), ``DatabaseConfigError``, ``DatabaseLockTimeout`` (final) or
``InvalidRequest``. ``{"action": "release", "database_lock": {"owner"}}`` deletes that
execution's row and returns ``{"key", "released"}`` (any other event, whatever its ``action``,
is a check: the contract takes anything).

Cold start is deliberately light: no alembic, no SQLAlchemy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pushgate.database import DatabaseSource, load_database_source, with_settings
from pushgate.dblock import LockClaim, Released, release_database_lock, release_owner
from pushgate.errors import (
    DatabaseConfigError,
    DatabaseLockHeld,
    DatabaseLockTimeout,
    DatabaseNotReady,
    InvalidRequest,
)
from pushgate.readiness import Readiness, check_database
from pushgate.snapshot.naming import name_for_run
from pushgate.versiontable import VersionTable

logger = Logger()
# No Powertools Tracer here, on purpose: importing the X-Ray SDK builds its recorder and a
# botocore X-Ray client, about 150 ms of every cold start (`make bench`), and this function's
# work is SQL, which the SDK does not trace. Lambda's active tracing (template Globals) still
# records each invocation and its init phase; prepare_rollout, whose work is AWS calls, keeps
# the Tracer.

# cold start: validate the settings once; a bad configuration fails every invocation clearly
SOURCE: DatabaseSource | DatabaseConfigError = load_database_source()


def _version_table() -> VersionTable | DatabaseConfigError:
    try:
        return VersionTable.from_env(os.environ)
    except InvalidRequest as exc:  # a settings problem of this function: final, like the source
        return DatabaseConfigError(str(exc))


VERSION_TABLE: VersionTable | DatabaseConfigError = _version_table()


def _settings() -> tuple[DatabaseSource, VersionTable]:
    table = VERSION_TABLE
    if isinstance(SOURCE, DatabaseConfigError) or isinstance(table, DatabaseConfigError):
        error = SOURCE if isinstance(SOURCE, DatabaseConfigError) else table
        logger.error("database settings are invalid", extra={"error": str(error)})
        raise DatabaseConfigError(str(error))
    return SOURCE, table


def _release(event: Any) -> Released:
    owner = release_owner(event)
    source, table = _settings()
    released = with_settings(source, lambda db: release_database_lock(db, table, owner))
    logger.info("database lock released", extra={**released, "owner": owner.arn})
    return released


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> Readiness | Released | dict[str, Any]:
    if isinstance(event, Mapping) and event.get("action") == "release":
        return _release(event)
    snapshot_name = name_for_run(event)  # a malformed request fails before the database is asked
    claim = LockClaim.from_event(event)
    source, table = _settings()
    try:
        result = with_settings(source, lambda db: check_database(db, table, claim))
    except DatabaseLockHeld as exc:
        logger.info("database lock held", extra={"error": str(exc)})
        raise
    except (DatabaseNotReady, DatabaseConfigError, DatabaseLockTimeout) as exc:
        logger.warning(
            "database not usable",
            extra={
                "error_type": type(exc).__name__,
                "error": str(exc),
                "source": source.description,
            },
        )
        raise
    logger.info("database ready", extra={**result, "source": source.description})
    if snapshot_name is not None:
        return {**result, "snapshot_name": snapshot_name}
    return result
