"""The database lock through the real definition, offline, on a real PostgreSQL: two stacks on
one database never migrate at once, and every run that took the lock releases it.

What an operator of either stack would check: the path, the row in ``pushgate_deploy_lock``,
the revision, the service, the deployment lock and the event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from pushgate_cli.rehearse import REGION, RehearsalConfig, RehearsalEnvironment, RunResult
from pushgate_cli.scenarios import SCENARIOS

from tests.helpers import HEAD, execution_of, query

pytestmark = pytest.mark.statemachine

CHECK = "Check database"
RELEASE_DB = "Release the database lock"
RELEASE = "Release the deployment lock"
SLOW = 0.0001  # real seconds per simulated one: another stack's run stays RUNNING for a while


@contextmanager
def rehearsal(database_url: str, scenario: str = "healthy") -> Iterator[RehearsalEnvironment]:
    config = RehearsalConfig(
        scenario=SCENARIOS[scenario],
        database_url=database_url,
        start_revision="previous",
        time_scale=SLOW,
    )
    with RehearsalEnvironment(config) as env:
        yield env


def hold(database_url: str, owner: str) -> None:
    """The row another stack's run left: the same version table, so the same key."""
    query(
        database_url,
        "CREATE TABLE IF NOT EXISTS pushgate_deploy_lock (lock_key text PRIMARY KEY, "
        "owner text NOT NULL, service text NOT NULL, taken_at timestamptz NOT NULL, "
        "expires_at timestamptz NOT NULL)",
    )
    query(
        database_url,
        "INSERT INTO pushgate_deploy_lock VALUES ('public.alembic_version', :owner, "
        "'apps/orders', now(), now() + interval '2 hours')",
        owner=owner,
    )


def lock_rows(database_url: str) -> list[list[Any]]:
    return query(database_url, "SELECT lock_key, owner FROM pushgate_deploy_lock")


def deployment_locks(env: RehearsalEnvironment) -> list[dict[str, Any]]:
    table = env.resolver.ref("LockTable")
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]
    return [item for item in items if "#" not in item["lock_id"]["S"]]


def check_output(result: RunResult) -> dict[str, Any]:
    """check_database's answer in the run's history (the Payload of "Check database")."""
    outputs = [
        json.loads(e["taskSucceededEventDetails"]["output"])["Payload"]
        for e in result.execution.history
        if e["type"] == "TaskSucceeded"
        and "database_lock" in e["taskSucceededEventDetails"]["output"]
        and '"revision"' in e["taskSucceededEventDetails"]["output"]
    ]
    assert len(outputs) == 1
    answer: dict[str, Any] = outputs[0]
    return answer


def test_a_healthy_run_releases_the_database_lock_just_before_the_deployment_lock(
    database_url: str,
) -> None:
    # GIVEN a database no other stack holds
    with rehearsal(database_url) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
    # THEN it migrated under the lock, and released it right before the deployment lock
    assert result.status == "succeeded"
    assert result.revision_after == HEAD
    assert check_output(result)["database_lock"] == {
        "key": "public.alembic_version",
        "reentered": False,
        "taken_over": None,
    }
    path = result.path
    assert path[path.index(RELEASE) - 1] == RELEASE_DB
    assert path.index(CHECK) < path.index("Run migrations") < path.index(RELEASE_DB)
    # AND no row is left behind
    assert lock_rows(database_url) == []


def test_another_stacks_running_execution_holds_the_lock_and_nothing_is_migrated(
    database_url: str,
) -> None:
    with rehearsal(database_url) as env:
        # GIVEN another stack's run, RUNNING, holds the lock of this database's version table
        sfn = boto3.client("stepfunctions", region_name=REGION)
        other = execution_of(sfn, "orders-deploy")
        hold(database_url, other)
        # WHEN a push of this stack is deployed
        result = env.execute(env.push_event("release-2"))
        locks_after = deployment_locks(env)
        sfn.stop_execution(executionArn=other)
    # THEN "Check database" waited a minute at a time, and the run failed with nothing migrated
    assert result.status == "failed"
    assert result.revision_after == result.revision_before
    assert result.service == result.service_before
    waits = [w.seconds for w in result.execution.waits if w.state == CHECK and w.kind == "retry"]
    assert waits
    assert set(waits) == {60}
    (event,) = result.events
    assert event["Detail"]["error"] in {"DatabaseLockHeld", "DatabaseLockTimeout"}
    assert other in event["Detail"]["cause"]
    for state in ["Run migrations", "Roll out image", RELEASE_DB]:
        assert state not in result.path
    # AND the other run's row is untouched, and this run's deployment lock released
    assert lock_rows(database_url) == [["public.alembic_version", other]]
    assert locks_after == []


def test_an_ended_runs_lock_is_taken_over_and_released(database_url: str) -> None:
    with rehearsal(database_url) as env:
        # GIVEN a row left by another stack's run that was stopped (never released)
        other = execution_of(
            boto3.client("stepfunctions", region_name=REGION), "orders-deploy", running=False
        )
        hold(database_url, other)
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
    # THEN the run took the lock over, said so, migrated, and left no row
    assert result.status == "succeeded"
    assert check_output(result)["database_lock"]["taken_over"] == other
    assert result.revision_after == HEAD
    assert lock_rows(database_url) == []


def test_a_rolled_back_run_releases_the_database_lock_too(database_url: str) -> None:
    # GIVEN a push whose tasks fail after the migration
    with rehearsal(database_url, "unhealthy") as env:
        # WHEN it is deployed
        result = env.execute(env.push_event("release-2"))
    # THEN it rolled back (schema back where it was) and released both locks, in order
    assert result.status == "rolled_back"
    assert result.revision_after == result.revision_before
    path = result.path
    assert path.index("Downgrade schema") < path.index(RELEASE_DB) == path.index(RELEASE) - 1
    assert lock_rows(database_url) == []
