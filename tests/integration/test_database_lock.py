"""The database lock (`pushgate.dblock`) through check_database, on a real PostgreSQL, its
owners' executions in an emulated Step Functions (moto).

What an operator of either stack would check: the row in ``pushgate_deploy_lock`` (who holds
it, until when), whether a second run may go on, when it gives up, and that a release deletes
only its own row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws
from pushgate import settings
from pushgate.database import connect, parse_database_url
from pushgate.errors import DatabaseLockHeld, DatabaseLockTimeout, DatabaseNotReady, InvalidRequest

from tests.helpers import execution_of, load_event, modules_after_cold_start, query, tables

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.integration

REGION = "us-east-1"
SAMPLE = load_event("check_database_lock")
RELEASE = load_event("check_database_release")
KEY = "public.alembic_version"


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An emulated Step Functions of the test's account (the owners' executions)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("stepfunctions", region_name=REGION)


def claim(owner: str = SAMPLE["database_lock"]["owner"], **overrides: Any) -> dict[str, Any]:
    """check_database's event for a run of `owner` that started a minute ago."""
    started = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    lock = {**SAMPLE["database_lock"], "owner": owner, "started_at": started, **overrides}
    return {**SAMPLE, "database_lock": lock}


def release(owner: str = RELEASE["database_lock"]["owner"]) -> dict[str, Any]:
    return {**RELEASE, "database_lock": {"owner": owner}}


def rows(url: str, schema: str = "public") -> list[list[Any]]:
    """The lock rows: key, owner, service, and whether expires_at is after taken_at."""
    return query(
        url,
        f"SELECT lock_key, owner, service, expires_at > taken_at FROM {schema}.pushgate_deploy_lock"
        " ORDER BY lock_key",
    )


Check = Callable[[], ModuleType]


def test_a_free_lock_is_taken_with_the_revision_and_a_redrive_reenters(
    check_database: Check, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN a database no run has locked yet
    handler = check_database()
    # WHEN a run checks it
    result = handler.lambda_handler(claim(), lambda_context)
    # THEN the table was created in the version table's schema, with one row naming the run
    assert result["database_lock"] == {"key": KEY, "reentered": False, "taken_over": None}
    assert result["revision"] is None
    assert rows(db_env) == [[KEY, SAMPLE["database_lock"]["owner"], "apps/web", True]]
    taken_at = query(db_env, "SELECT taken_at FROM pushgate_deploy_lock")[0][0]
    # AND a redrive of the same execution re-enters it, the row unchanged but for expires_at
    again = handler.lambda_handler(claim(), lambda_context)
    assert again["database_lock"] == {"key": KEY, "reentered": True, "taken_over": None}
    assert query(db_env, "SELECT taken_at FROM pushgate_deploy_lock")[0][0] == taken_at


def test_a_lock_whose_owner_still_runs_is_held_and_nothing_is_written(
    check_database: Check, db_env: str, sfn: Any, lambda_context: LambdaContext
) -> None:
    # GIVEN another stack's run, still RUNNING, holds the lock of the same version table
    other = execution_of(sfn, "orders-deploy")
    handler = check_database()
    handler.lambda_handler(claim(other, service="apps/orders"), lambda_context)
    # WHEN this stack's run checks the database
    with pytest.raises(DatabaseLockHeld) as held:
        handler.lambda_handler(claim(), lambda_context)
    # THEN it is told who holds it, and the row is still the other run's
    assert other in str(held.value)
    assert "apps/orders" in str(held.value)
    assert rows(db_env) == [[KEY, other, "apps/orders", True]]


def test_a_run_that_waited_its_lock_wait_gives_up(
    check_database: Check, db_env: str, sfn: Any, lambda_context: LambdaContext
) -> None:
    # GIVEN the lock held by a RUNNING run, and this run started longer ago than its lock wait
    other = execution_of(sfn, "orders-deploy")
    handler = check_database()
    handler.lambda_handler(claim(other), lambda_context)
    # WHEN it checks the database THEN DatabaseLockTimeout, the row still the other run's
    with pytest.raises(DatabaseLockTimeout):
        handler.lambda_handler(claim(wait_seconds=30), lambda_context)
    assert rows(db_env)[0][1] == other


@pytest.mark.parametrize("ended", ["stopped", "unknown to Step Functions"])
def test_a_lock_whose_owner_ended_is_taken_over(
    check_database: Check, db_env: str, sfn: Any, lambda_context: LambdaContext, ended: str
) -> None:
    # GIVEN the lock left behind by a run that is no longer RUNNING (or no execution at all)
    if ended == "stopped":
        other = execution_of(sfn, "orders-deploy", running=False)
    else:
        other = "arn:aws:states:us-east-1:123456789012:execution:orders-deploy:gone"
    handler = check_database()
    handler.lambda_handler(claim(other), lambda_context)
    # WHEN this run checks the database THEN it takes the lock over, and says from whom
    result = handler.lambda_handler(claim(), lambda_context)
    assert result["database_lock"] == {"key": KEY, "reentered": False, "taken_over": other}
    assert rows(db_env)[0][1] == SAMPLE["database_lock"]["owner"]


def test_another_accounts_owner_is_held_until_its_lock_expires(
    check_database: Check, db_env: str, sfn: Any, lambda_context: LambdaContext
) -> None:
    # GIVEN the lock held by another account's execution, which this stack cannot describe
    foreign = "arn:aws:states:us-east-1:210987654321:execution:billing-deploy:run-9"
    handler = check_database()
    handler.lambda_handler(claim(foreign, hold_seconds=3600), lambda_context)
    # WHEN this run checks the database THEN it is held, until the row's expires_at
    with pytest.raises(DatabaseLockHeld) as held:
        handler.lambda_handler(claim(), lambda_context)
    assert "expires at" in str(held.value)
    # AND once expires_at has passed, it is taken over
    query(db_env, "UPDATE pushgate_deploy_lock SET expires_at = now() - interval '1 second'")
    result = handler.lambda_handler(claim(), lambda_context)
    assert result["database_lock"]["taken_over"] == foreign


def test_release_deletes_only_this_executions_row(
    check_database: Check, db_env: str, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    # GIVEN two version tables in one database (two histories), each locked by its own run
    first = SAMPLE["database_lock"]["owner"]
    second = "arn:aws:states:us-east-1:123456789012:execution:orders-deploy:run-2"
    check_database().lambda_handler(claim(first), lambda_context)
    monkeypatch.setenv(settings.VERSION_TABLE, "orders_version")
    orders = check_database()
    orders.lambda_handler(claim(second), lambda_context)
    assert [row[:2] for row in rows(db_env)] == [
        [KEY, first],
        ["public.orders_version", second],
    ]
    # WHEN the first run's release is asked of the second table, THEN nothing is deleted
    assert orders.lambda_handler(release(first), lambda_context) == {
        "key": "public.orders_version",
        "released": False,
    }
    # AND the second run's release deletes its row only
    assert orders.lambda_handler(release(second), lambda_context)["released"] is True
    assert [row[:2] for row in rows(db_env)] == [[KEY, first]]


def test_the_lock_lives_in_the_version_tables_schema(
    check_database: Check, db_env: str, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    # GIVEN a version table kept in its own schema
    query(db_env, "CREATE SCHEMA deploys")
    monkeypatch.setenv(settings.VERSION_TABLE_SCHEMA, "deploys")
    handler = check_database()
    # WHEN a run checks the database THEN the key and the table are that schema's
    assert handler.lambda_handler(claim(), lambda_context)["database_lock"]["key"] == (
        "deploys.alembic_version"
    )
    assert len(rows(db_env, "deploys")) == 1
    assert "pushgate_deploy_lock" not in tables(db_env)  # not in public


def test_a_probe_takes_nothing_and_a_release_before_any_lock_finds_nothing(
    check_database: Check, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN a fresh database WHEN checked without a lock claim, then released
    handler = check_database()
    assert "database_lock" not in handler.lambda_handler({}, lambda_context)
    assert handler.lambda_handler(release(), lambda_context) == {"key": KEY, "released": False}
    # THEN no table was created
    assert tables(db_env) == set()


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"action": "release"}, id="release-without-owner"),
        pytest.param(
            {"database_lock": {**SAMPLE["database_lock"], "owner": "me"}}, id="owner-not-an-arn"
        ),
        pytest.param(
            {"database_lock": {**SAMPLE["database_lock"], "started_at": "noon"}},
            id="started-at-not-a-time",
        ),
        pytest.param(
            {"database_lock": {**SAMPLE["database_lock"], "hold_seconds": -1}},
            id="negative-hold",
        ),
    ],
)
def test_a_malformed_request_changes_nothing(
    check_database: Check, db_env: str, lambda_context: LambdaContext, event: dict[str, Any]
) -> None:
    # GIVEN a malformed request WHEN check_database is invoked THEN InvalidRequest, no table
    with pytest.raises(InvalidRequest):
        check_database().lambda_handler(event, lambda_context)
    assert tables(db_env) == set()


def test_taking_a_free_lock_and_releasing_it_make_no_aws_client(database_url: str) -> None:
    """GIVEN a fresh interpreter as Lambda's WHEN check_database is loaded, takes a free lock,
    re-enters it and releases it THEN no AWS client was made (neither boto3 nor botocore.client
    imported): only a takeover pays for one."""
    events = [claim(), claim(), release()]
    imported = modules_after_cold_start(
        "check_database",
        {settings.DATABASE_URL: database_url},
        {"boto3", "botocore.client"},
        invoke=True,
        events=events,
    )

    assert imported == []
    assert query(database_url, "SELECT count(*) FROM pushgate_deploy_lock") == [[0]]


def test_a_row_locked_by_a_stuck_session_is_not_waited_for_past_the_row_wait(
    check_database: Check, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN the lock taken, and a session that keeps the lock's row locked (a stuck check)
    handler = check_database()
    handler.lambda_handler(claim(), lambda_context)
    stuck = connect(parse_database_url(db_env))
    try:
        stuck.run("START TRANSACTION")
        stuck.run("SELECT owner FROM pushgate_deploy_lock FOR UPDATE")
        # WHEN a run checks the database THEN it gives up after the row wait, retryably
        with pytest.raises(DatabaseNotReady) as raised:
            handler.lambda_handler(claim(), lambda_context)
    finally:
        stuck.close()
    assert "pushgate_deploy_lock" in str(raised.value)
    # AND once the session is gone, the run re-enters its lock
    assert handler.lambda_handler(claim(), lambda_context)["database_lock"]["reentered"] is True
