"""The migration's one transaction: every pending revision, or none.

All pending revisions run in ONE transaction (PostgreSQL DDL is transactional) with
``SET LOCAL lock_timeout`` and ``statement_timeout``; alembic's env.py receives the connection
through ``config.attributes["connection"]`` (the cookbook's "sharing a connection" recipe) and
runs the plan's steps (``EnvironmentContext(fn=...)``). The deadline caps ``statement_timeout``
and is checked before each statement. A failure before the COMMIT rolls everything back; what
happens next is :func:`pushgate.migrator.retry.decide`'s :data:`RetryDecision`. A failure of
the COMMIT itself may have committed: it is settled elsewhere (``migrate``'s ``settle``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from sqlalchemy import event
from sqlalchemy.engine import Connection

from pushgate.errors import MigrationFailed, PushgateError
from pushgate.migrator.connection import current_revision, logger
from pushgate.migrator.plan import Plan
from pushgate.migrator.request import RunLimits
from pushgate.migrator.retry import DeadlineReached, GiveUp, decide
from pushgate.migrator.scripts import RevisionGraph


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
    """One attempt at the plan. ``running`` is the step being run, while one is;
    ``committing``, whether the COMMIT was sent."""

    def __init__(
        self, conn: Connection, graph: RevisionGraph, plan: Plan, limits: RunLimits
    ) -> None:
        self._conn = conn
        self._graph = graph
        self._plan = plan
        self._limits = limits
        self._statement_timeout_ms = limits.statement_timeout_ms
        self.running: RevisionStep | None = None
        self.committing = False  # the COMMIT was sent: a failure now may have committed

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
            cursor.execute(f"SET LOCAL statement_timeout = {budget_ms}")
            self._statement_timeout_ms = budget_ms

    def _steps(self, rev: Any, context: MigrationContext) -> Iterator[RevisionStep]:
        for step in self._plan.steps:
            self.running = step
            logger().info(
                "running revision",
                extra={
                    "revision": step.revision.revision,
                    "direction": self._plan.direction,
                    "description": step.revision.doc,
                },
            )
            yield step

    def run(self) -> None:
        """Run every step and check the version table reached the plan's ``to_revision``."""
        budget_ms = _budget_ms(self._limits)
        if budget_ms is not None:
            self._statement_timeout_ms = min(self._statement_timeout_ms, budget_ms)
        conn, config = self._conn, self._graph.config
        event.listen(conn, "before_cursor_execute", self._before_execute)
        try:
            with conn.begin() as transaction:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {self._limits.lock_timeout_ms}")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {self._statement_timeout_ms}")
                config.attributes["connection"] = conn
                try:
                    with EnvironmentContext(
                        config,
                        self._graph.script,
                        fn=self._steps,
                        destination_rev=self._plan.destination,
                    ):
                        self._graph.script.run_env()
                finally:
                    config.attributes.pop("connection", None)
                self.running = None
                reached = current_revision(conn)
                if reached != self._plan.to_revision:
                    raise MigrationFailed(
                        f"the migration ended at {reached or 'base'}, not at "
                        f"{self._plan.to_revision or 'base'} (does env.py use the shared "
                        "connection?)"
                    )
                # From here on a lost reply leaves the outcome open: PostgreSQL may have
                # committed (see pushgate.migrator.outcome).
                self.committing = True
                transaction.commit()
        finally:
            event.remove(conn, "before_cursor_execute", self._before_execute)


def migrate(
    conn: Connection,
    graph: RevisionGraph,
    plan: Plan,
    limits: RunLimits,
    settle: Callable[[Plan, Exception], list[str]],
) -> list[str]:
    """Run the plan in one transaction, retried as :func:`decide` says; the revisions applied.
    A failure of the COMMIT itself goes to ``settle`` (the outcome is unknown until the version
    table is re-read elsewhere: :func:`pushgate.migrator.outcome.settle_lost_commit`)."""
    attempt = 0
    while True:
        attempt += 1
        transaction = MigrationTransaction(conn, graph, plan, limits)
        try:
            transaction.run()
            return plan.revisions
        except Exception as exc:
            if transaction.committing and not isinstance(exc, PushgateError):
                return settle(plan, exc)
            if conn.in_transaction():
                conn.rollback()
            decision = decide(
                exc,
                where=transaction.where,
                from_revision=plan.from_revision,
                attempt=attempt,
                limits=limits,
                now=time.monotonic(),
            )
            if isinstance(decision, GiveUp):
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
