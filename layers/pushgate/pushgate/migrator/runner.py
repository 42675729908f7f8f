"""The ``run_migrations`` Lambda's work: plan, upgrade or downgrade, safely.

Safety, in the order it happens:

1. One connection, with a read timeout (:mod:`~pushgate.migrator.connection`).
2. The advisory lock, so two runs never migrate at once (not for a plan, which changes nothing).
3. The current revision is read. Already at the target -> nothing is applied (idempotent: a
   replay or a redrive is safe). Otherwise, with ``expected_current`` given and different from
   the current revision -> ``SchemaDrift``, nothing done.
4. All pending revisions run in ONE transaction (:mod:`~pushgate.migrator.transaction`), in
   pushgate's own alembic environment (never the project's env.py): a failure anywhere rolls
   everything back, and the database stays at ``from_revision``, unless a revision's
   ``autocommit_block()`` committed part of it: then the error says where it really is.
5. A deadline (the Lambda's, minus :data:`DEADLINE_MARGIN_SECONDS`) bounds every wait, caps
   ``statement_timeout`` and is checked before each statement: the run stops, rolls back and
   raises ``MigrationFailed`` instead of being killed mid-way.
6. Errors leave as pushgate errors, classified by SQLSTATE and type, never by message
   (:mod:`~pushgate.migrator.retry`): losing the database before or during the transaction is
   ``DatabaseNotReady`` (the state machine retries it; a retry is safe, see 3); credentials
   refused before anything ran, ``DatabaseConfigError``; anything else, ``MigrationFailed``.
   A COMMIT whose reply is lost is settled on a new connection before anything is said
   (:mod:`~pushgate.migrator.outcome`): applied, really rolled back, or
   ``MigrationOutcomeUnknown``.
7. ``revert`` (:mod:`~pushgate.migrator.revert`): back to the run's ``from_revision`` if, and
   only if, the database is between it and the scripts' head; a no-op when already there.

The revision graph is read from the files' source once per process (cold start); only the files
that run are imported, when they must run. The version table is the settings'
(``VERSION_TABLE``, ``VERSION_TABLE_SCHEMA``, ``MIGRATION_SEARCH_PATH``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Final

from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from pushgate.database import DatabaseSettings, describe_error, reraise_classified
from pushgate.errors import InvalidRequest, MigrationFailed, PushgateError, SchemaDrift
from pushgate.migrator.connection import Connections, advisory_lock, current_revision, logger
from pushgate.migrator.inspect import read_only_result
from pushgate.migrator.outcome import Session, settle_lost_commit
from pushgate.migrator.plan import Plan, make_plan, offline_sql, pending_revision
from pushgate.migrator.request import (
    READ_ONLY,
    MigrationRequest,
    MigrationResult,
    MigrationSettings,
    RunLimits,
    migration_result,
)
from pushgate.migrator.revert import revert_target
from pushgate.migrator.scripts import Revision, RevisionGraph, Target
from pushgate.migrator.transaction import migrate

DEADLINE_MARGIN_SECONDS: Final = 2.0  # stop this long before the Lambda's own timeout

# (this project's head, the database's revision this project does not know) -> whether another
# project (the serving image's) knows that revision as a descendant of the head
AheadCheck = Callable[[str, str], bool]


def knows(graph: RevisionGraph, revision: str) -> bool:
    """Whether ``graph`` has ``revision``."""
    try:
        graph.get(revision)
    except (CommandError, RevisionError):
        return False
    return True


class Migrator:
    """Runs migrations from one alembic script directory. Build it once per process."""

    def __init__(self, migration_settings: MigrationSettings) -> None:
        self.settings = migration_settings
        self.graph = RevisionGraph(migration_settings.script_location)
        self._connections = Connections(
            migration_settings.statement_timeout_ms, migration_settings.version_table
        )

    def run(
        self,
        request: MigrationRequest,
        db: DatabaseSettings,
        *,
        deadline: float | None = None,
        ahead: AheadCheck | None = None,
    ) -> MigrationResult:
        """Plan, upgrade or downgrade. ``deadline``: a ``time.monotonic()`` instant (the Lambda's
        end); the run stops :data:`DEADLINE_MARGIN_SECONDS` before it. ``ahead``: when the
        database is at a revision this project does not know, whether it is ahead of this
        project's head (an older image over a newer schema): then nothing is run and the result
        says ``schema_ahead``; otherwise, or without ``ahead``, SchemaDrift."""
        started = time.perf_counter()
        if request.action == "read":
            raise InvalidRequest("a read is answered from the scripts alone, not on a database")
        limits = RunLimits(
            lock_timeout_ms=self.settings.lock_timeout_ms,
            statement_timeout_ms=self.settings.statement_timeout_ms,
            stop_at=None if deadline is None else deadline - DEADLINE_MARGIN_SECONDS,
        )
        self.graph.head()
        target = self.graph.resolve(request.target)  # an unknown revision fails before connecting
        try:
            with reraise_classified(), self._connections.open(db) as conn:
                lock = (
                    nullcontext()
                    if request.action in READ_ONLY
                    else advisory_lock(conn, self.settings.lock_wait_seconds, limits.stop_at)
                )
                with lock:
                    session = Session.of(conn)
                    current = current_revision(conn, self.settings.version_table)
                    conn.commit()

                    def settle(plan: Plan, failure: Exception) -> list[str]:
                        reopen = functools.partial(self._connections.open, db)
                        table = self.settings.version_table
                        return settle_lost_commit(reopen, session, plan, failure, limits, table)

                    result = self._run_locked(conn, request, target, current, limits, settle, ahead)
        except PushgateError:
            raise
        except Exception as exc:  # before or around the migration's transaction: nothing changed
            raise MigrationFailed(
                f"the {request.action} failed: {describe_error(exc)}; nothing was changed"
            ) from exc
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return result

    def _run_locked(
        self,
        conn: Connection,
        request: MigrationRequest,
        target: Target,
        current: str | None,
        limits: RunLimits,
        settle: Callable[[Plan, Exception], list[str]],
        ahead: AheadCheck | None,
    ) -> MigrationResult:
        table = self.settings.version_table
        if request.action in ("inspect", "check_revert"):
            return read_only_result(self.graph, request, target, current)
        if request.action == "check_upgrade":  # before an upgrade task: decided, nothing run
            result = migration_result("check_upgrade", current, current, [])
            result["schema_ahead"] = self._known_or_ahead(request, current, ahead)
            return result
        if request.action == "revert":
            back_to = revert_target(self.graph, target, current)
            if back_to is None:
                return migration_result("revert", current, current, [])  # nothing to undo
            plan = make_plan(self.graph, "downgrade", back_to, current)
            applied = migrate(conn, self.graph, plan, limits, table, settle)
            self._log_committed(request, plan, applied)
            return migration_result("revert", current, plan.to_revision, applied)
        if isinstance(target, Revision) and target.id == current:
            return migration_result(request.action, current, current, [])  # idempotent
        schema_ahead = self._known_or_ahead(request, current, ahead)
        expected = request.expected_current
        if expected is not None and (None if expected == "base" else expected) != current:
            raise SchemaDrift(
                f"the database is at {current or 'base'}, expected {expected}; nothing done"
            )
        if schema_ahead:  # an older image over the newer schema of the serving image's scripts
            result = migration_result(request.action, current, current, [])
            result["schema_ahead"] = True
            return result
        plan = make_plan(self.graph, request.action, target, current)
        if request.action == "plan":
            result = migration_result("plan", current, plan.to_revision, [])
            result["pending"] = [pending_revision(self.graph, step) for step in plan.steps]
            result["sql"] = offline_sql(self.graph, plan, table)
            return result
        if not plan.steps:
            return migration_result(request.action, current, current, [])
        applied = migrate(conn, self.graph, plan, limits, table, settle)
        self._log_committed(request, plan, applied)
        return migration_result(request.action, current, plan.to_revision, applied)

    def _known_or_ahead(
        self, request: MigrationRequest, current: str | None, ahead: AheadCheck | None
    ) -> bool:
        """Whether the database is ahead (``schema_ahead``): an older image over the newer
        schema of the serving image's scripts, the database's revision unknown here and
        ``ahead`` saying it descends from this project's head. False when this project knows
        the revision; SchemaDrift when neither does."""
        schema_ahead = (
            current is not None
            and request.action != "downgrade"
            and ahead is not None
            and not knows(self.graph, current)
            and ahead(self.graph.head(), current)
        )
        if not schema_ahead:
            self.graph.check_known(current)
        return schema_ahead

    @staticmethod
    def _log_committed(request: MigrationRequest, plan: Plan, applied: list[str]) -> None:
        logger().info(
            "migration committed",
            extra={
                "action": request.action,
                "from_revision": plan.from_revision,
                "to_revision": plan.to_revision,
                "applied": applied,
            },
        )
