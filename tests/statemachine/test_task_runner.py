"""The task runner (MigrationRunner task) through the real state machine definition, on a real
PostgreSQL: the migration is examples/service's own ``alembic upgrade head``, really run (a
subprocess in the service's directory, with the task definition's environment and secret, as
ECS would run it) by the emulated one-off task, and the undo is its ``alembic downgrade``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from pushgate_cli.ecs_tasks import TaskRun
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.rehearse import (
    REGION,
    RehearsalConfig,
    RehearsalEnvironment,
    RehearsalError,
    RunResult,
)
from pushgate_cli.scenarios import SCENARIOS, Scenario
from pushgate_cli.schema import revisions_of

from tests.helpers import tables

pytestmark = pytest.mark.statemachine

SERVICE = REPO_ROOT / "examples" / "service"
SERVICE_CHAIN = revisions_of(SERVICE)
SERVICE_HEAD, SERVICE_PREVIOUS = SERVICE_CHAIN[-1], SERVICE_CHAIN[-2]
TASK_STATES = ["Run the migration task", "Watch the migration task", "Record the migration"]

Rehearse = Callable[..., Any]


@pytest.fixture
def task_rehearsal(database_url: str) -> Rehearse:
    """A rehearsal with the task runner, on this test's own database, one revision below head:
    `with task_rehearsal(scenario) as env`."""

    def environment(scenario: Scenario = SCENARIOS["healthy"]) -> RehearsalEnvironment:
        config = RehearsalConfig(
            scenario=scenario,
            runner="task",
            task_poll_wait_seconds=0.5,
            database_url=database_url,
            start_revision="previous",
        )
        return RehearsalEnvironment(config)

    return environment


def runs_of(env: RehearsalEnvironment) -> list[TaskRun]:
    assert env.tasks is not None
    return list(env.tasks.runs)


def the_event(result: RunResult) -> dict[str, Any]:
    assert len(result.events) == 1, [e["DetailType"] for e in result.events]
    detail: dict[str, Any] = result.events[0]["Detail"]
    return detail


def described_task(env: RehearsalEnvironment, arn: str) -> dict[str, Any]:
    cluster = env.resolver.ref("ClusterName")
    found = boto3.client("ecs", region_name=REGION).describe_tasks(cluster=cluster, tasks=[arn])
    task: dict[str, Any] = found["tasks"][0]
    return task


def test_a_healthy_push_runs_the_services_own_migration_command_in_the_pinned_image(
    task_rehearsal: Rehearse, database_url: str
) -> None:
    # GIVEN the task runner, the service one revision behind its head
    with task_rehearsal() as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
        (run,) = runs_of(env)
        task = described_task(env, run.task_arn)

    # THEN the service's own alembic upgraded the database, in a task of the revision that
    # now serves, with the secret's URL and the run's timeouts; the watcher stopped the task
    # the sidecar kept running; the event reports the migration as the Lambda runner does
    assert result.status == "succeeded"
    assert (result.revision_before, result.revision_after) == (SERVICE_PREVIOUS, SERVICE_HEAD)
    assert run.command == ["alembic", "upgrade", "head"]
    assert run.exit_code == 0
    assert run.environment["DATABASE_URL"] == database_url
    assert run.environment["PGOPTIONS"] == "-c lock_timeout=3000 -c statement_timeout=120000"
    assert run.environment["PGAPPNAME"] == "pushgate-migration"
    assert task["taskDefinitionArn"] == result.service.task_definition
    assert task["lastStatus"] == "STOPPED"
    assert "exited with 0" in task["stoppedReason"]
    for state in TASK_STATES:
        assert state in result.path
    assert "Run migrations" not in result.path
    detail = the_event(result)
    assert (detail["from_revision"], detail["to_revision"]) == (SERVICE_PREVIOUS, SERVICE_HEAD)


def test_an_unhealthy_rollout_runs_the_downgrade_task_back_to_from_revision(
    task_rehearsal: Rehearse,
) -> None:
    # GIVEN new tasks that fail after the migration
    with task_rehearsal(SCENARIOS["unhealthy"]) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
        upgrade, downgrade = runs_of(env)

    # THEN the same image's alembic downgraded exactly to the run's start, and it rolled back
    assert result.status == "rolled_back"
    assert result.revision_after == SERVICE_PREVIOUS
    assert downgrade.command == ["alembic", "downgrade", SERVICE_PREVIOUS]
    assert (upgrade.exit_code, downgrade.exit_code) == (0, 0)
    assert "Run the downgrade task" in result.path
    assert "Downgrade schema" not in result.path
    assert result.service.task_definition == result.service_before.task_definition


def test_a_task_failing_after_a_partial_commit_is_downgraded_back_and_says_why(
    task_rehearsal: Rehearse, database_url: str
) -> None:
    # GIVEN a new revision that commits what ran before it, then fails
    with task_rehearsal(SCENARIOS["migration-fails"]) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
        upgrade, downgrade = runs_of(env)

    # THEN the task exited 1 with the schema at head; the downgrade task brought it back to
    # from_revision; the service is untouched; the alert carries exit code, stop code and log
    assert result.status == "failed"
    assert upgrade.exit_code == 1
    assert "rehearsal_half_done" in tables(database_url)  # the partial commit really happened
    assert downgrade.command == ["alembic", "downgrade", SERVICE_PREVIOUS]
    assert result.revision_after == SERVICE_PREVIOUS
    assert result.service == result.service_before
    detail = the_event(result)
    assert detail["error"] == "MigrationTaskFailed"
    cause = str(detail)
    assert "exited with 1" in cause
    assert "UserInitiated" in cause
    assert "division by zero" in cause  # a line of the task's own log


def test_a_task_that_never_starts_migrates_nothing_and_leaves_the_service(
    task_rehearsal: Rehearse,
) -> None:
    # GIVEN an image ECS cannot pull
    with task_rehearsal(SCENARIOS["never-starts"]) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
        ran = runs_of(env)

    # THEN nothing ran, the schema and the service are as they were, and it says why
    assert result.status == "failed"
    assert ran == []
    assert result.revision_after == result.revision_before == SERVICE_PREVIOUS
    assert result.service == result.service_before
    assert the_event(result)["error"] == "MigrationTaskNotStarted"
    assert "Check the schema before the downgrade task" not in result.path


def test_a_task_past_its_timeout_is_stopped_and_counts_as_failed(
    task_rehearsal: Rehearse,
) -> None:
    # GIVEN a new revision that never ends, and MigrationTaskTimeoutSeconds 60
    with task_rehearsal(SCENARIOS["timeout"]) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
        (run,) = runs_of(env)

    # THEN the watch waited about the timeout, the task's command was killed, and the schema is
    # where it started (its transaction never committed)
    waited = sum(
        w.seconds
        for w in result.execution.waits
        if w.state == "Watch the migration task" and w.kind == "retry"
    )
    assert 60 <= waited <= 70
    assert run.exit_code is not None
    assert run.exit_code < 0
    assert result.status == "failed"
    assert the_event(result)["error"] == "MigrationTaskTimeout"
    assert result.revision_after == SERVICE_PREVIOUS
    assert result.service == result.service_before


def test_the_task_runners_scenarios_are_refused_with_the_lambda_runner(database_url: str) -> None:
    for name in ("never-starts", "timeout"):
        config = RehearsalConfig(
            scenario=SCENARIOS[name], runner="lambda", database_url=database_url
        )
        with pytest.raises(RehearsalError):
            RehearsalEnvironment(config).__enter__()
