"""The task runner's runTask requests (pushgate.migration_task): the command as a shell would
split it, the downgrade never relative, the run's timeouts, the service's own network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pushgate import settings
from pushgate.aws import OnFirstUse
from pushgate.errors import InvalidRequest
from pushgate.migration_task import TaskRunnerSettings, task_requests
from pushgate_cli.handlers import load_handler

from tests.helpers import load_event

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.unit

ENV = {
    settings.CLUSTER_NAME: "shop-dev",
    settings.CONTAINER_NAME: "api",
    settings.MIGRATION_COMMAND: "alembic -x tenant='all of them' upgrade head",
    settings.MIGRATION_DOWNGRADE_COMMAND: "alembic downgrade {from_revision}",
    settings.MIGRATION_TASK_TIMEOUT_SECONDS: "1800",
    settings.MIGRATION_LOCK_TIMEOUT_MS: "3000",
    settings.MIGRATION_STATEMENT_TIMEOUT_MS: "120000",
}
SERVICE = {
    "LaunchType": "FARGATE",
    "NetworkConfiguration": {
        "AwsvpcConfiguration": {"Subnets": ["subnet-1"], "SecurityGroups": ["sg-1"]}
    },
}
TASK_DEFINITION = "arn:aws:ecs:us-east-1:111122223333:task-definition/shop-api:7"


def requests(from_revision: str | None, **env: str) -> dict[str, dict[str, Any]]:
    runner = TaskRunnerSettings.from_env({**ENV, **env})
    event = {"task_definition": TASK_DEFINITION, "from_revision": from_revision, "service": SERVICE}
    return task_requests(runner, event)


def override(request: dict[str, Any]) -> dict[str, Any]:
    (found,) = request["Overrides"]["ContainerOverrides"]
    assert isinstance(found, dict)
    return found


def test_the_upgrade_runs_the_command_split_as_a_shell_would_with_the_runs_timeouts() -> None:
    # GIVEN a command with a quoted argument WHEN the requests are built
    upgrade = requests("abc123")["upgrade"]
    # THEN the quoted words stay one, the container is the service's, the timeouts become
    # PGOPTIONS, and the service's launch type and network are the task's
    found = override(upgrade)
    assert found["Name"] == "api"
    assert found["Command"] == ["alembic", "-x", "tenant=all of them", "upgrade", "head"]
    assert {e["Name"]: e["Value"] for e in found["Environment"]} == {
        "PGOPTIONS": "-c lock_timeout=3000 -c statement_timeout=120000",
        "PGAPPNAME": "pushgate-migration",
    }
    assert upgrade["TaskDefinition"] == TASK_DEFINITION
    assert upgrade["LaunchType"] == "FARGATE"
    assert upgrade["NetworkConfiguration"] == SERVICE["NetworkConfiguration"]


def test_the_downgrade_goes_to_the_runs_start_and_to_base_when_there_was_none() -> None:
    assert override(requests("abc123")["downgrade"])["Command"] == [
        "alembic",
        "downgrade",
        "abc123",
    ]
    assert override(requests(None)["downgrade"])["Command"] == ["alembic", "downgrade", "base"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (settings.MIGRATION_COMMAND, "alembic upgrade 'head"),  # an unclosed quote
        (settings.MIGRATION_COMMAND, "   "),
        (settings.MIGRATION_TASK_TIMEOUT_SECONDS, "0"),
        (settings.MIGRATION_TASK_TIMEOUT_SECONDS, "7201"),
        (settings.MIGRATION_LOCK_TIMEOUT_MS, "soon"),
    ],
)
def test_a_bad_setting_is_refused_at_cold_start(name: str, value: str) -> None:
    with pytest.raises(InvalidRequest):
        TaskRunnerSettings.from_env({**ENV, name: value})


def test_a_service_the_runner_cannot_copy_is_refused_before_anything_runs() -> None:
    runner = TaskRunnerSettings.from_env(ENV)
    for service in (
        {**SERVICE, "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT"}]},
        {"LaunchType": "EC2"},  # no awsvpc network configuration
    ):
        with pytest.raises(InvalidRequest):
            task_requests(
                runner,
                {"task_definition": TASK_DEFINITION, "from_revision": None, "service": service},
            )


def test_a_cold_start_and_a_prepare_make_no_aws_client(
    monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    """GIVEN migration_task loaded afresh WHEN it prepares a run's requests (no AWS API call)
    THEN neither its ECS nor its Logs client was made: both are made on the first watch, so the
    cold start that prepares pays for neither model (pushgate.aws)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    handler = load_handler("migration_task", fresh=True)

    result = handler.lambda_handler(load_event("migration_task_prepare"), lambda_context)

    assert set(result) == {"upgrade", "downgrade"}
    assert isinstance(handler.WATCHER.ecs, OnFirstUse)
    assert isinstance(handler.WATCHER.logs, OnFirstUse)
    assert (handler.WATCHER.ecs.made(), handler.WATCHER.logs.made()) == (False, False)
