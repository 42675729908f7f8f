"""What a failed migration transaction means: the RetryDecision (no database needed)."""

from __future__ import annotations

import pytest
from pg8000.exceptions import DatabaseError
from pushgate.errors import (
    DatabaseNotReady,
    MigrationFailed,
    MigrationLockTimeout,
    PushgateError,
    SchemaDrift,
)
from pushgate.migrator.request import RunLimits
from pushgate.migrator.retry import (
    LOCK_NOT_AVAILABLE_ATTEMPTS,
    LOCK_NOT_AVAILABLE_BACKOFF_SECONDS,
    DeadlineReached,
    GiveUp,
    Retry,
    RetryDecision,
    decide,
)

pytestmark = pytest.mark.unit

NOW = 1000.0
NO_DEADLINE = RunLimits(lock_timeout_ms=3000, statement_timeout_ms=120_000, stop_at=None)


def _server_error(code: str) -> DatabaseError:
    """What pg8000 raises for a server ErrorResponse (fields keyed by protocol letter)."""
    return DatabaseError({"S": "ERROR", "C": code, "M": "message text is never used"})


def _decide(failure: Exception, attempt: int = 1, limits: RunLimits = NO_DEADLINE) -> RetryDecision:
    return decide(
        failure,
        where="revision abc (add users)",
        from_revision="abc",
        attempt=attempt,
        limits=limits,
        now=NOW,
    )


def _gives_up_with(decision: RetryDecision) -> type[PushgateError]:
    assert isinstance(decision, GiveUp)
    return type(decision.error)


@pytest.mark.parametrize("attempt", range(1, LOCK_NOT_AVAILABLE_ATTEMPTS))
def test_a_table_lock_not_available_is_retried_after_a_bounded_pause(attempt: int) -> None:
    """GIVEN lock_timeout fired (55P03) on an attempt before the last, no deadline WHEN decided
    THEN the whole transaction is retried after a pause within the exponential backoff."""
    decision = _decide(_server_error("55P03"), attempt)

    assert isinstance(decision, Retry)
    assert 0 <= decision.pause_seconds <= LOCK_NOT_AVAILABLE_BACKOFF_SECONDS * 2 ** (attempt - 1)


def test_a_table_lock_not_available_on_the_last_attempt_gives_up() -> None:
    """GIVEN 55P03 on the last attempt WHEN decided THEN MigrationLockTimeout."""
    decision = _decide(_server_error("55P03"), LOCK_NOT_AVAILABLE_ATTEMPTS)

    assert _gives_up_with(decision) is MigrationLockTimeout


def test_a_table_lock_not_available_at_the_deadline_gives_up() -> None:
    """GIVEN 55P03 on the first attempt with the deadline already here WHEN decided THEN no
    retry: MigrationLockTimeout."""
    at_deadline = RunLimits(lock_timeout_ms=3000, statement_timeout_ms=120_000, stop_at=NOW)

    assert _gives_up_with(_decide(_server_error("55P03"), 1, at_deadline)) is MigrationLockTimeout


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        pytest.param(DeadlineReached(), MigrationFailed, id="deadline"),
        pytest.param(_server_error("57014"), MigrationFailed, id="statement-cancelled"),
        pytest.param(_server_error("42601"), MigrationFailed, id="syntax-error"),
        pytest.param(_server_error("57P01"), DatabaseNotReady, id="server-shut-down"),
        pytest.param(ConnectionResetError(104, "reset"), DatabaseNotReady, id="connection-reset"),
    ],
)
def test_other_failures_give_up_with_their_pushgate_error(
    failure: Exception, expected: type[PushgateError]
) -> None:
    """GIVEN a failure that retrying the transaction here cannot fix WHEN decided THEN it gives
    up with the error its SQLSTATE or type means (DatabaseNotReady: the state machine retries)."""
    assert _gives_up_with(_decide(failure)) is expected


def test_a_pushgate_error_is_given_up_with_as_it_is() -> None:
    """GIVEN a failure that already is a pushgate error WHEN decided THEN that very error."""
    drift = SchemaDrift("raised by the run itself")

    decision = _decide(drift)

    assert isinstance(decision, GiveUp)
    assert decision.error is drift
