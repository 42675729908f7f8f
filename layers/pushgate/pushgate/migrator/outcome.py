"""A COMMIT whose reply was lost: find out what it did before saying anything.

The migration's COMMIT may reach PostgreSQL and be applied while the reply never arrives (a
network partition, a NAT timeout, a failover). The old connection can no longer be asked, so
:func:`settle_lost_commit` asks the server on a NEW connection:

1. The old session (its ``pg_backend_pid()`` and ``backend_start``, noted when it opened) must
   be gone first, so that its transaction is settled, committed or rolled back, and its
   advisory lock is released. It is waited for briefly; a session the server still keeps (it
   has not noticed the client is gone) is terminated, which cannot undo a COMMIT already done.
2. Then the version table is re-read:

   - at the plan's ``to_revision``: it committed; the revisions count as applied;
   - at its ``from_revision``: it really rolled back; ``DatabaseNotReady`` (retryable, as any
     lost database before a COMMIT);
   - elsewhere, or no answer: ``MigrationOutcomeUnknown``, which names both revisions and
     claims neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pushgate.database import describe_error
from pushgate.errors import DatabaseNotReady, MigrationOutcomeUnknown
from pushgate.migrator.connection import current_revision, logger
from pushgate.migrator.plan import Plan
from pushgate.migrator.request import RunLimits
from pushgate.versiontable import VersionTable

SESSION_GONE_WAIT_SECONDS: Final = 2.0  # per wait: before terminating it, and after
_POLL_SECONDS: Final = 0.05

Reopen = Callable[[], AbstractContextManager[Connection]]


@dataclass(frozen=True)
class Session:
    """A server session, identified across connections (a pid alone may be reused)."""

    pid: int
    started: datetime

    @classmethod
    def of(cls, conn: Connection) -> Session:
        """The session ``conn`` talks to."""
        row = conn.execute(
            text("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        ).one()
        return cls(pid=int(row[0]), started=row[1])

    def alive(self, conn: Connection) -> bool:
        """Whether the server still runs this session (asked on another connection)."""
        found = conn.execute(
            text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid AND backend_start = :started"),
            {"pid": self.pid, "started": self.started},
        ).first()
        conn.commit()
        return found is not None

    def terminate(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": self.pid})
        conn.commit()


def _wait_gone(session: Session, conn: Connection, limits: RunLimits) -> bool:
    """Wait until ``session`` has ended, for at most SESSION_GONE_WAIT_SECONDS (and never past
    the deadline); whether it has."""
    give_up = time.monotonic() + SESSION_GONE_WAIT_SECONDS
    if limits.stop_at is not None:
        give_up = min(give_up, limits.stop_at)
    while session.alive(conn):
        if time.monotonic() >= give_up:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def _reread(reopen: Reopen, session: Session, limits: RunLimits, table: VersionTable) -> str | None:
    """The revision once the old session is gone (RuntimeError when it would not end)."""
    with reopen() as conn:
        if not _wait_gone(session, conn, limits):
            session.terminate(conn)
            if not _wait_gone(session, conn, limits):
                raise RuntimeError(f"the old session (pid {session.pid}) would not end")
        revision = current_revision(conn, table)
        conn.commit()
        return revision


def settle_lost_commit(
    reopen: Reopen,
    session: Session,
    plan: Plan,
    failure: Exception,
    limits: RunLimits,
    table: VersionTable,
) -> list[str]:
    """What the COMMIT of ``plan`` on ``session`` did, after ``failure`` lost its reply: the
    revisions applied, or a pushgate error that says only what was verified."""
    start, end = plan.from_revision or "base", plan.to_revision or "base"
    lost = f"the reply to the COMMIT of {start} -> {end} was lost ({describe_error(failure)})"
    try:
        reached = _reread(reopen, session, limits, table)
    except Exception as exc:
        raise MigrationOutcomeUnknown(
            f"{lost}, and the version table could not be re-read ({describe_error(exc)}): the "
            f"database is at {start} or at {end}; nothing is claimed"
        ) from failure
    if reached == plan.to_revision:
        logger().warning(
            "the COMMIT's reply was lost; the version table shows it committed",
            extra={"from_revision": plan.from_revision, "to_revision": plan.to_revision},
        )
        return plan.revisions
    if reached == plan.from_revision:
        raise DatabaseNotReady(
            f"{lost}; re-read on a new connection: it did not commit, the database is at {start}"
        ) from failure
    raise MigrationOutcomeUnknown(
        f"{lost}; re-read on a new connection, the database is at {reached or 'base'}, neither "
        f"{start} nor {end}"
    ) from failure
