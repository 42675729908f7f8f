"""A dead task-runner run (MigrationRunner task) compensated from outside: compensate_run reads
where the schema is (run_migrations' read-only check_revert) and, since it runs no ECS task,
never claims a downgrade it did not run: its alert says where the schema is and what to run.

The dying run is test_dead_run's (the lock, the serving version, the starting revision, a real
migration on a real PostgreSQL standing for the migration task's, the service moved), with the
settings and the task records a task-runner run writes."""

from __future__ import annotations

from typing import Any

import pytest
from pushgate_cli.lambda_context import LambdaContext

from tests.helpers import HEAD, revision
from tests.statemachine.test_dead_run import (
    DIES_OF_RUNTIME,
    PREVIOUS,
    World,
    run_dying,
    status_change,
    world,
)

pytestmark = pytest.mark.statemachine

__all__ = ["world"]  # the fixture, shared

DOWNGRADE = ["alembic", "downgrade", PREVIOUS]
FINISHED = {"task_arn": "arn:aws:ecs:us-east-1:123456789012:task/c1/done", "exit_code": 0}


def task_runner_records(world: World, outcome: dict[str, Any] | None) -> dict[str, Any]:
    """What a task-runner run has recorded by the time its migration task ran: its settings, the
    prepared downgrade request, the task it started and (unless None) the watch's outcome."""
    return {
        "settings": {"migration_runner": "task"},
        "task": {
            "requests": {
                "downgrade": {
                    "TaskDefinition": world.new_td,
                    "Overrides": {"ContainerOverrides": [{"Name": "app", "Command": DOWNGRADE}]},
                }
            },
            "started": {"tasks": [{"TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/c1/m1"}]},
            "outcome": outcome,
        },
    }


def die_as_a_task_run(
    world: World, monkeypatch: pytest.MonkeyPatch, outcome: dict[str, Any] | None, migrate: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the dying machine as a task-runner run (its migration standing for the task's, or
    none); return compensate_run's report and its one alert."""
    records = task_runner_records(world, outcome)

    def as_a_task_run(states: dict[str, Any]) -> None:
        states["Note the starting revision"]["Next"] = "Note the settings"
        states["Note the settings"] = {
            "Type": "Pass",
            "Result": records["settings"],
            "ResultPath": "$.settings",
            "Next": "Note the tasks",
        }
        states["Note the tasks"] = {
            "Type": "Pass",
            "Result": records["task"],
            "ResultPath": "$.task",
            "Next": "Run migrations" if migrate else "Point the service at the new revision",
        }

    report, compensate_run = run_dying(world, DIES_OF_RUNTIME, monkeypatch, as_a_task_run)
    assert (report.status, report.error) == ("FAILED", "States.Runtime")
    event = status_change(report, compensate_run.CONFIG.state_machine_arn)
    context = LambdaContext.invocation("compensate-run", timeout_s=900, memory_mb=256)
    result: dict[str, Any] = compensate_run.lambda_handler(event, context)
    alerts = world.alerts(report.execution_arn)
    assert len(alerts) == 1
    return result, alerts[0]


def test_a_dead_task_run_past_its_start_is_not_downgraded_and_the_alert_says_what_to_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a task-runner run whose migration task took the schema PREVIOUS -> HEAD, then died
    result, alert = die_as_a_task_run(world, monkeypatch, FINISHED, migrate=True)
    # THEN the service was scaled to zero and the lock released, but no downgrade was claimed:
    # the schema is still at HEAD
    assert revision(world.database_url) == HEAD
    assert world.service() == (world.new_td, 0)
    assert world.lock() == []
    assert result["outcome"] == "rollback_failed"
    assert result["steps"] == ["scaled the service to zero", "released the lock"]
    # AND one "Rollback Failed" says where the schema is and the exact command to run
    assert alert["DetailType"] == "Rollback Failed"
    detail = alert["Detail"]
    assert detail["error"] == "DowngradeTaskNotRun"
    assert (detail["from_revision"], detail["to_revision"], detail["applied"]) == (
        PREVIOUS,
        HEAD,
        [],
    )
    assert f"the schema is at {HEAD}, not the run's from_revision {PREVIOUS}" in detail["cause"]
    assert f"`alembic downgrade {PREVIOUS}` in container app of {world.new_td}" in detail["cause"]
    assert detail["original_error"] == "States.Runtime"


def test_a_dead_task_run_whose_task_was_never_seen_to_stop_says_so(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a task-runner run that died while its migration task ran (no watch outcome), the
    # schema still at its start when compensate_run reads it
    result, alert = die_as_a_task_run(world, monkeypatch, None, migrate=False)
    # THEN nothing is claimed undone: the task may still move the schema
    assert revision(world.database_url) == PREVIOUS
    assert result["outcome"] == "rollback_failed"
    detail = alert["Detail"]
    assert detail["error"] == "DowngradeTaskNotRun"
    assert f"the schema is at {PREVIOUS}, the run's from_revision" in detail["cause"]
    assert "task/c1/m1 was never seen to stop and may still be moving it" in detail["cause"]


def test_a_dead_task_run_at_its_start_is_rolled_back_without_a_downgrade(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a task-runner run whose task ended without moving the schema, then died
    result, alert = die_as_a_task_run(world, monkeypatch, FINISHED, migrate=False)
    # THEN the previous version serves again, the schema is untouched and nothing claims a
    # downgrade
    assert revision(world.database_url) == PREVIOUS
    assert world.service() == (world.previous_td, 2)
    assert result["outcome"] == "rolled_back"
    assert not any("schema" in step for step in result["steps"])
    assert alert["DetailType"] == "Deployment Rolled Back"
    assert alert["Detail"]["applied"] == []
