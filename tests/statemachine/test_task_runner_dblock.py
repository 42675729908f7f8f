"""The database lock (taken in "Check database", released just before the deployment lock) on
the task runner's path, through the real definition on a real PostgreSQL: held across the
migration task and its undo, released on every way out, and another stack's run holding it
means no task starts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from pushgate_cli.rehearse import REGION, RehearsalConfig, RehearsalEnvironment
from pushgate_cli.scenarios import SCENARIOS

from tests.helpers import execution_of
from tests.statemachine.test_database_lock import (
    CHECK,
    RELEASE,
    RELEASE_DB,
    SLOW,
    deployment_locks,
    hold,
    lock_rows,
)

pytestmark = pytest.mark.statemachine


@contextmanager
def task_rehearsal(
    database_url: str,
    scenario: str = "healthy",
    time_scale: float = 0.0,
    parameters: Mapping[str, str] | None = None,
) -> Iterator[RehearsalEnvironment]:
    config = RehearsalConfig(
        time_scale=time_scale,
        parameters=dict(parameters or {}),
        scenario=SCENARIOS[scenario],
        runner="task",
        task_poll_wait_seconds=0.5,
        database_url=database_url,
        start_revision="previous",
    )
    with RehearsalEnvironment(config) as env:
        yield env


@pytest.mark.parametrize(
    ("scenario", "status", "last_task_state"),
    [
        ("healthy", "succeeded", "Record the migration"),
        ("migration-fails", "failed", "Record the downgrade"),
        ("never-starts", "failed", "Watch the migration task"),
    ],
)
def test_the_task_path_holds_the_database_lock_across_its_tasks_and_releases_it(
    database_url: str, scenario: str, status: str, last_task_state: str
) -> None:
    # GIVEN the task runner, a database no other stack holds
    with task_rehearsal(database_url, scenario) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
    # THEN the lock was taken before the task and released after its last task state, just
    # before the deployment lock; no row is left
    assert result.status == status, result.path
    path = result.path
    assert path.index(CHECK) < path.index("Run the migration task")
    assert path.index(last_task_state) < path.index(RELEASE_DB) == path.index(RELEASE) - 1
    assert lock_rows(database_url) == []


def test_another_stacks_run_holding_the_database_lock_means_no_task_starts(
    database_url: str,
) -> None:
    with task_rehearsal(database_url, time_scale=SLOW) as env:
        # GIVEN another stack's RUNNING execution holds this database's lock
        sfn = boto3.client("stepfunctions", region_name=REGION)
        other = execution_of(sfn, "orders-deploy")
        hold(database_url, other)
        # WHEN a push is deployed with the task runner
        result = env.execute(env.push_event("release-2"))
        locks_after = deployment_locks(env)
        assert env.tasks is not None
        runs = list(env.tasks.runs)
        sfn.stop_execution(executionArn=other)
    # THEN it failed at "Check database": no task ran, nothing migrated, the service untouched
    assert result.status == "failed"
    assert runs == []
    assert "Run the migration task" not in result.path
    assert result.revision_after == result.revision_before
    assert result.service == result.service_before
    (event,) = result.events
    assert event["Detail"]["error"] in {"DatabaseLockHeld", "DatabaseLockTimeout"}
    # AND the other run's row is untouched, this run's deployment lock released
    assert lock_rows(database_url) == [["public.alembic_version", other]]
    assert locks_after == []


def scheduled_payload(history: list[dict[str, Any]], state: str) -> Any:
    """The Lambda payload the first task of ``state`` was scheduled with."""
    inside = False
    for event in history:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            inside = event["stateEnteredEventDetails"]["name"] == state
        elif inside and kind == "TaskScheduled":
            return json.loads(event["taskScheduledEventDetails"]["parameters"])["Payload"]
    raise AssertionError(f"{state} scheduled no task")


def test_the_lock_wait_and_hold_outlast_a_run_whose_migration_task_and_undo_run_their_timeout(
    database_url: str,
) -> None:
    # GIVEN the task runner with 40-minute migration tasks, a 15-minute health deadline and a
    # 20-minute snapshot deadline
    parameters = {
        "MigrationTaskTimeoutSeconds": "2400",
        "HealthDeadlineSeconds": "900",
        "SnapshotDeadlineSeconds": "1200",
    }
    with task_rehearsal(database_url, parameters=parameters) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
    assert result.status == "succeeded", result.path
    claim = scheduled_payload(result.execution.history, CHECK)["database_lock"]
    # THEN the lock wait (how long a run queued behind this one waits) and the row's
    # expires_at (what another account's stack waits for, as it cannot ask whether this run
    # still runs) both cover this run's worst case: the health deadline, the snapshot wait, the
    # migration task and its downgrade task at their timeout each, and an hour's slack
    assert claim["wait_seconds"] == 900 + 1200 + 2 * 2400 + 3600
    assert claim["hold_seconds"] == claim["wait_seconds"]
