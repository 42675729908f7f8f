"""Error classification by SQLSTATE and exception type: retryable or final."""

from __future__ import annotations

import socket

import pytest
from pg8000.exceptions import DatabaseError, InterfaceError
from pushgate.database import classify_error, reraise_classified, sqlstate
from pushgate.errors import DatabaseConfigError, DatabaseNotReady, MigrationFailed
from sqlalchemy.exc import OperationalError

pytestmark = pytest.mark.unit


def _server_error(code: str) -> DatabaseError:
    """What pg8000 raises for a server ErrorResponse (fields keyed by protocol letter)."""
    return DatabaseError({"S": "FATAL", "C": code, "M": "message text is never used"})


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("57P03", DatabaseNotReady),  # the database system is starting up / in recovery
        ("57P01", DatabaseNotReady),  # terminating connection due to administrator command
        ("53300", DatabaseNotReady),  # too many connections
        ("08006", DatabaseNotReady),  # connection failure
        ("25006", DatabaseNotReady),  # read-only transaction: a replica
        ("28P01", DatabaseConfigError),  # password authentication failed
        ("28000", DatabaseConfigError),  # no pg_hba.conf entry
        ("3D000", DatabaseConfigError),  # database does not exist
    ],
)
def test_sqlstates(code: str, expected: type[Exception]) -> None:
    """GIVEN a server error with SQLSTATE code WHEN classified THEN retryable or final."""
    classified = classify_error(_server_error(code))

    assert type(classified) is expected


def test_other_sqlstates_are_not_ours_to_classify() -> None:
    """GIVEN a syntax error (42601) WHEN classified THEN None: it is a bug, not readiness."""
    assert classify_error(_server_error("42601")) is None


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ConnectionRefusedError(111, "refused"), id="refused"),
        pytest.param(TimeoutError("timed out"), id="timeout"),
        pytest.param(socket.gaierror(-2, "Name or service not known"), id="dns"),
        pytest.param(InterfaceError("network error"), id="pg8000-interface"),
    ],
)
def test_network_failures_are_not_ready(error: Exception) -> None:
    """GIVEN a failure to reach the server WHEN classified THEN retryable."""
    assert isinstance(classify_error(error), DatabaseNotReady)


def test_sqlalchemy_wrapped_errors_are_seen_through() -> None:
    """GIVEN a pg8000 error wrapped by SQLAlchemy WHEN classified THEN by the inner SQLSTATE."""
    wrapped = OperationalError("SELECT 1", {}, _server_error("3D000"))

    assert sqlstate(wrapped) == "3D000"
    assert isinstance(classify_error(wrapped), DatabaseConfigError)


def test_reraise_classified_turns_a_known_failure_into_its_pushgate_error() -> None:
    """GIVEN a refused connection inside reraise_classified() WHEN it leaves THEN it is
    DatabaseNotReady, with the original failure as its cause."""
    refused = ConnectionRefusedError(111, "refused")

    with pytest.raises(DatabaseNotReady) as raised, reraise_classified():
        raise refused

    assert raised.value.__cause__ is refused


def test_reraise_classified_lets_other_failures_through_unchanged() -> None:
    """GIVEN a syntax error (not ours to classify) WHEN it leaves THEN it is the same error."""
    syntax = _server_error("42601")

    with pytest.raises(DatabaseError) as raised, reraise_classified():
        raise syntax

    assert raised.value is syntax


def test_reraise_classified_never_reclassifies_a_pushgate_error() -> None:
    """GIVEN a MigrationFailed caused by a lost connection WHEN it leaves THEN it is still that
    MigrationFailed: pushgate already decided what it means."""
    decided = MigrationFailed("a revision failed")
    decided.__cause__ = InterfaceError("network error")

    with pytest.raises(MigrationFailed) as raised, reraise_classified():
        raise decided

    assert raised.value is decided
