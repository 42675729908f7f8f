"""The rehearsal's scenarios and outcomes, apart from the rehearsal itself (which imports moto),
so that `pushgate`'s argument parser can name them without importing moto: an operator command
then never reads the AWS configuration through moto's import before its own error mapping."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Rollout(enum.Enum):
    """How a newly pushed image behaves once ECS starts its tasks."""

    HEALTHY = "healthy"  # tasks start and pass health checks: COMPLETED
    FAILING = "failing"  # tasks fail to start: the circuit breaker marks the deployment FAILED
    STUCK = "stuck"  # tasks neither become healthy nor fail: IN_PROGRESS until the deadline


class TaskStart(enum.Enum):
    RUNS = "runs"  # the container starts and runs its command
    NEVER_STARTS = "never-starts"  # CannotPullContainerError: the task stops, nothing ran


# detail-type of the event a run puts -> the run's status
OUTCOMES: Mapping[str, str] = {
    "Deployment Succeeded": "succeeded",
    "Deployment Rolled Back": "rolled_back",
    "Deployment Failed": "failed",
    "Rollback Failed": "rollback_failed",
    "Deployment Rejected": "rejected",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    expect: str  # the status the run must end with
    rollout: Rollout = Rollout.HEALTHY
    database_reachable: bool = True
    failing_migration: bool = False
    summary: str = ""
    task_start: TaskStart = TaskStart.RUNS  # the task runner's migration task
    hanging_migration: bool = False  # a new revision that never ends (the task's timeout)


SCENARIOS: Mapping[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy", "succeeded", summary="migrate, roll out, the new image serves"),
        Scenario(
            "unhealthy",
            "rolled_back",
            Rollout.FAILING,
            summary="tasks fail after migrating: scale to zero, downgrade, restore, alert",
        ),
        Scenario(
            "migration-fails",
            "failed",
            failing_migration=True,
            summary="a revision fails: schema left where it was, service untouched",
        ),
        Scenario(
            "never-starts",
            "failed",
            task_start=TaskStart.NEVER_STARTS,
            summary="(task runner) ECS cannot start the migration task: nothing migrated",
        ),
        Scenario(
            "timeout",
            "failed",
            hanging_migration=True,
            summary="(task runner) the migration task outlives MigrationTaskTimeoutSeconds: "
            "stopped, schema back at from_revision",
        ),
        Scenario(
            "db-unavailable",
            "failed",
            database_reachable=False,
            summary="the database never becomes ready: retries spent, nothing touched",
        ),
    )
}
