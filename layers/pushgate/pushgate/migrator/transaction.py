"""The migration's one transaction: every pending revision, or none (or, with an autocommit
block, everything up to the block, said so).

The connection gets pushgate's session settings first (``lock_timeout``, ``statement_timeout``;
the search_path is set when it opens; session-level, so they hold across an autocommit block),
then every pending revision runs in ONE transaction in pushgate's own alembic environment
(:mod:`~pushgate.migrator.environment`; never the project's env.py). The deadline caps
``statement_timeout`` and is checked before each statement. A failure rolls back what is not
committed; what happens next is :func:`pushgate.migrator.retry.decide`'s :data:`RetryDecision`,
unless an autocommit block had committed part of the run: then the version table is re-read and
the error says where the database really is (no retry: the compensation acts on it), after a
failed ``CREATE INDEX CONCURRENTLY``'s INVALID index is dropped. A failure of the COMMIT itself
may have committed: it is settled elsewhere (``migrate``'s ``settle``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from alembic.runtime.migration import MigrationContext, RevisionStep
from sqlalchemy import event
from sqlalchemy.engine import Connection

from pushgate.database import describe_error
from pushgate.errors import MigrationFailed, PushgateError
from pushgate.migrator.autocommit import BlockWatch, drop_new_invalid_indexes, invalid_indexes
from pushgate.migrator.connection import current_revision, logger
from pushgate.migrator.environment import run_online
from pushgate.migrator.extensions import missing_extension
from pushgate.migrator.plan import Plan
from pushgate.migrator.request import RunLimits
from pushgate.migrator.retry import DeadlineReached, GiveUp, decide
from pushgate.migrator.scripts import RevisionGraph
from pushgate.versiontable import VersionTable


def _budget_ms(limits: RunLimits) -> int | None:
    """Milliseconds left before the deadline (DeadlineReached when none; None: no deadline)."""
    left = limits.time_left(time.monotonic())
    if left is None:
        return None
    budget_ms = int(left * 1000)
    if budget_ms <= 0:
        raise DeadlineReached()
    return budget_ms


class MigrationTransaction:
    """One attempt at the plan. ``running`` is the step being run, while one is."""

    def __init__(
        self,
        conn: Connection,
        graph: RevisionGraph,
        plan: Plan,
        limits: RunLimits,
        table: VersionTable,
    ) -> None:
        self._conn = conn
        self._graph = graph
        self._plan = plan
        self._limits = limits
        self._table = table
        self._statement_timeout_ms = limits.statement_timeout_ms
        self.running: RevisionStep | None = None
        self.committing = False  # the COMMIT is next: a failure now may have committed
        self.watch = BlockWatch(conn)
        self.per_revision = False  # each revision its own transaction (a run with autocommit)

    @property
    def where(self) -> str:
        """Where it failed, for humans: the revision being run, or the migration as a whole."""
        if self.running is None:
            return "the migration"
        return f"revision {self.running.revision.revision} ({self.running.revision.doc})"

    def _before_execute(self, conn: Connection, cursor: Any, *args: Any, **kwargs: Any) -> None:
        """SQLAlchemy's ``before_cursor_execute``: keep every statement inside the deadline."""
        budget_ms = _budget_ms(self._limits)
        if budget_ms is not None and budget_ms < self._statement_timeout_ms:
            cursor.execute(f"SET statement_timeout = {budget_ms}")
            self._statement_timeout_ms = budget_ms

    def _steps(self, rev: Any, context: MigrationContext) -> Iterator[RevisionStep]:
        for step in self._plan.steps:
            self.running = self.watch.running = step
            logger().info(
                "running revision",
                extra={
                    "revision": step.revision.revision,
                    "direction": self._plan.direction,
                    "description": step.revision.doc,
                },
            )
            yield step

    def _check_reached(self) -> None:
        self.running = self.watch.running = None
        reached = current_revision(self._conn, self._table)
        if reached != self._plan.to_revision:
            raise MigrationFailed(
                f"the migration ended at {reached or 'base'}, not at "
                f"{self._plan.to_revision or 'base'}"
            )
        # run_online commits next: from here on a lost reply leaves the outcome open
        # (PostgreSQL may have committed; see pushgate.migrator.outcome)
        self.committing = True

    def run(self) -> None:
        """Run every step and check the version table reached the plan's ``to_revision``."""
        budget_ms = _budget_ms(self._limits)
        if budget_ms is not None:
            self._statement_timeout_ms = min(self._statement_timeout_ms, budget_ms)
        conn = self._conn
        conn.exec_driver_sql(f"SET lock_timeout = {self._limits.lock_timeout_ms}")
        conn.exec_driver_sql(f"SET statement_timeout = {self._statement_timeout_ms}")
        conn.commit()  # session settings: they hold across an autocommit block's transactions
        event.listen(conn, "before_cursor_execute", self._before_execute)
        try:
            with self.watch:
                run_online(
                    conn,
                    self._graph,
                    self._table,
                    self._steps,
                    self._plan.destination,
                    self._check_reached,
                    per_revision=self.per_revision,
                )
        finally:
            event.remove(conn, "before_cursor_execute", self._before_execute)


def _moved(conn: Connection, table: VersionTable, from_revision: str | None) -> bool:
    """Whether the version table left ``from_revision`` (a revision committed on its own);
    True when it cannot be read: then where the database is must be said, not assumed."""
    try:
        reached = current_revision(conn, table)
        conn.commit()
    except Exception:
        return True
    return reached != from_revision


def _partly_committed(
    conn: Connection,
    transaction: MigrationTransaction,
    plan: Plan,
    table: VersionTable,
    invalid_before: set[str],
    failure: Exception,
) -> MigrationFailed:
    """The error of a run an autocommit block had partly committed: where the database is,
    re-read (never assumed), what was committed and what was cleaned up."""
    blocks = ", ".join(transaction.watch.committed_in)
    what = (
        f"an autocommit block (in {blocks}) had committed part of the run"
        if blocks
        else "the revisions before it were committed one by one (a pending revision has an "
        "autocommit block, so each revision is its own transaction)"
    )
    try:
        with transaction.watch:
            dropped = drop_new_invalid_indexes(conn, invalid_before)
        reached = current_revision(conn, table)
        conn.commit()
    except Exception as exc:
        return MigrationFailed(
            f"{transaction.where} failed: {describe_error(failure)}; {what}, and where the "
            f"database is now could not be read ({describe_error(exc)}): check it before "
            "anything else"
        )
    revisions = plan.revisions
    committed = revisions[: revisions.index(reached) + 1] if reached in revisions else []
    logger().warning(
        "migration failed after an autocommit block committed part of it",
        extra={
            "from_revision": plan.from_revision,
            "database_at": reached,
            "committed": committed,
            "dropped_invalid_indexes": dropped,
        },
    )
    cleaned = f"; dropped the INVALID index(es) {', '.join(dropped)}" if dropped else ""
    if reached == plan.from_revision:
        where = (
            f"the version table is still at {reached or 'base'}, but what {blocks} ran "
            "before and in its autocommit block is committed"
        )
    else:
        where = (
            f"the database is at {reached or 'base'} (committed: {', '.join(committed)}), "
            f"not at from_revision {plan.from_revision or 'base'}: it must be downgraded to "
            f"{plan.from_revision or 'base'}"
        )
    return MigrationFailed(
        f"{transaction.where} failed: {describe_error(failure)}; {what}: {where}{cleaned}"
    )


def migrate(
    conn: Connection,
    graph: RevisionGraph,
    plan: Plan,
    limits: RunLimits,
    table: VersionTable,
    settle: Callable[[Plan, Exception], list[str]],
) -> list[str]:
    """Run the plan in one transaction, retried as :func:`decide` says; the revisions applied.
    A failure of the COMMIT itself goes to ``settle`` (the outcome is unknown until the version
    table is re-read elsewhere: :func:`pushgate.migrator.outcome.settle_lost_commit`)."""
    blocks_possible = any(graph.get(rev).autocommit for rev in plan.revisions)
    invalid_before = invalid_indexes(conn) if blocks_possible else set()
    attempt = 0
    while True:
        attempt += 1
        transaction = MigrationTransaction(conn, graph, plan, limits, table)
        transaction.per_revision = blocks_possible
        try:
            transaction.run()
            return plan.revisions
        except Exception as exc:
            if transaction.committing and not isinstance(exc, PushgateError):
                return settle(plan, exc)
            if conn.in_transaction():
                conn.rollback()
            if transaction.watch.committed_in or (
                blocks_possible and _moved(conn, table, plan.from_revision)
            ):
                raise _partly_committed(
                    conn, transaction, plan, table, invalid_before, exc
                ) from exc
            decision = decide(
                exc,
                where=transaction.where,
                from_revision=plan.from_revision,
                attempt=attempt,
                limits=limits,
                now=time.monotonic(),
            )
            if isinstance(decision, GiveUp):
                note = None if isinstance(exc, PushgateError) else missing_extension(conn, exc)
                if note is not None:
                    raise type(decision.error)(f"{decision.error} ({note})") from exc
                if decision.error is exc:
                    raise
                raise decision.error from exc
            logger().warning(
                "a table lock was not available; retrying the whole migration",
                extra={
                    "revision": transaction.where,
                    "attempt": attempt,
                    "pause_s": round(decision.pause_seconds, 3),
                },
            )
            time.sleep(decision.pause_seconds)
