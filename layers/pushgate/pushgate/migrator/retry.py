"""What a failed migration transaction means: a :data:`RetryDecision`, never a bare return.

The transaction was rolled back, so the database is still at the plan's ``from_revision``:

- ``lock_not_available`` (SQLSTATE 55P03, the lock_timeout fired): :class:`Retry` the whole
  transaction after a full-jitter exponential backoff, up to :data:`LOCK_NOT_AVAILABLE_ATTEMPTS`
  tries and never past the deadline; then ``MigrationLockTimeout``;
- the deadline reached, or a statement cancelled (57014): ``MigrationFailed``;
- the database lost (refused, reset, shut down, failed over): ``DatabaseNotReady``, which the
  state machine retries (a retry is safe: the run is idempotent);
- a pushgate error: itself; anything else: ``MigrationFailed``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from pushgate.database import classify_error, describe_error, sqlstate
from pushgate.errors import DatabaseNotReady, MigrationFailed, MigrationLockTimeout, PushgateError
from pushgate.migrator.request import RunLimits

LOCK_NOT_AVAILABLE_ATTEMPTS: Final = 3  # tries of the whole transaction on SQLSTATE 55P03
LOCK_NOT_AVAILABLE_BACKOFF_SECONDS: Final = 0.5  # base of the full-jitter exponential backoff
_LOCK_NOT_AVAILABLE: Final = "55P03"
_QUERY_CANCELED: Final = "57014"


class DeadlineReached(Exception):
    """Raised inside the transaction when the deadline is too close to run another statement."""


@dataclass(frozen=True)
class Retry:
    """Run the whole transaction again after ``pause_seconds``."""

    pause_seconds: float


@dataclass(frozen=True)
class GiveUp:
    """Stop: raise ``error`` (its cause: the failure)."""

    error: PushgateError


RetryDecision = Retry | GiveUp


def decide(
    failure: Exception,
    *,
    where: str,
    from_revision: str | None,
    attempt: int,
    limits: RunLimits,
    now: float,
) -> RetryDecision:
    """What to do after attempt number ``attempt`` (from 1) failed with ``failure`` in
    ``where`` (e.g. "revision abc (add users)") at ``time.monotonic()`` instant ``now``."""
    if isinstance(failure, PushgateError):
        return GiveUp(failure)
    left = f"the transaction was rolled back; the database is left at {from_revision or 'base'}"
    if isinstance(failure, DeadlineReached):
        return GiveUp(MigrationFailed(f"stopped in {where} before the Lambda deadline; {left}"))
    code = sqlstate(failure)
    if code == _LOCK_NOT_AVAILABLE:
        pause = random.uniform(  # noqa: S311 - jitter
            0, LOCK_NOT_AVAILABLE_BACKOFF_SECONDS * 2 ** (attempt - 1)
        )
        time_left = limits.time_left(now)
        if attempt < LOCK_NOT_AVAILABLE_ATTEMPTS and (time_left is None or time_left > pause):
            return Retry(pause)
        return GiveUp(
            MigrationLockTimeout(
                f"{where} could not get a table lock within lock_timeout="
                f"{limits.lock_timeout_ms} ms after {attempt} attempt(s); {left}"
            )
        )
    if code == _QUERY_CANCELED:
        near_deadline = limits.stop_at is not None and now >= limits.stop_at - 0.1
        why = (
            "to stop before the Lambda deadline"
            if near_deadline
            else f"by statement_timeout={limits.statement_timeout_ms} ms"
        )
        return GiveUp(MigrationFailed(f"{where} was cancelled {why}; {left}"))
    # lost the connection, a failover, a shutdown: all rolled back, so worth retrying
    classified = classify_error(failure)
    if isinstance(classified, DatabaseNotReady):
        return GiveUp(DatabaseNotReady(f"lost the database during {where}: {classified}; {left}"))
    return GiveUp(MigrationFailed(f"{where} failed: {describe_error(failure)}; {left}"))
