"""wake_rollout between a real wait for a task token and ECS's events (moto, offline ASL).

A one-state machine waits the way "Wait for ECS to say so" does (``lambda:invoke.waitForTaskToken``
of the shipped handler, a 60-second safety timeout); ECS's event reaches the same handler while
it waits, before it parks, or not at all. What a person checks: how the wait ended, what woke it,
and the ``#wake`` item left in the lock table.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from pushgate import settings
from pushgate_cli.handlers import load_handler
from pushgate_cli.lambda_context import LambdaContext
from pushgate_cli.offline import ExecutionReport, OfflineStepFunctions, WaitRecord

from tests.helpers import load_event

pytestmark = pytest.mark.statemachine

REGION = "us-east-1"
TABLE = "locks"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:123456789012:service/shop-dev/shop-api"
WAIT = "Wait for ECS to say so"


class World:
    """The lock table, the handler registered as a Lambda, and a machine that waits with it."""

    def __init__(self, sfn: OfflineStepFunctions, handler: Any) -> None:
        self.sfn = sfn
        self.handler = handler
        self.during_wait: list[dict[str, Any]] = []  # events ECS sends while the task waits
        arn = sfn.register_lambda("wake-rollout", handler.lambda_handler)
        self.machine = sfn.create_state_machine(
            "wait",
            json.dumps(
                {
                    "StartAt": WAIT,
                    "States": {
                        WAIT: {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                            "Parameters": {
                                "FunctionName": arn,
                                "Payload": {
                                    "token.$": "$$.Task.Token",
                                    "deployments.$": "$.deployments",
                                    "execution.$": "$$.Execution.Id",
                                    "task_definition": "shop-api:8",
                                    "polls": 0,
                                    "poll_seconds": 60,
                                    "deadline_seconds": 600,
                                    "elapsed": 0,
                                },
                            },
                            "TimeoutSeconds": 60,
                            "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Safety poll"}],
                            "End": True,
                        },
                        "Safety poll": {"Type": "Pass", "End": True},
                    },
                }
            ),
        )
        sfn.on_token_wait(lambda _execution, _state: self._send_all())
        self.outcomes: list[str] = []

    def send(self, event: dict[str, Any]) -> str:
        """Deliver an ECS event to the handler, as the rule would; its outcome."""
        context = LambdaContext.invocation("wake-rollout", timeout_s=10, memory_mb=128)
        outcome = str(self.handler.lambda_handler(event, context)["outcome"])
        self.outcomes.append(outcome)
        return outcome

    def _send_all(self) -> None:
        while self.during_wait:
            self.send(self.during_wait.pop(0))

    def wait_for(self, deployment_id: str, name: str) -> ExecutionReport:
        deployments = [{"Id": deployment_id, "RolloutState": "IN_PROGRESS"}]
        return self.sfn.run(self.machine, {"deployments": deployments}, name=name)

    def item(self) -> dict[str, Any]:
        found = boto3.client("dynamodb", region_name=REGION).get_item(
            TableName=TABLE, Key={"lock_id": {"S": "shop-dev/shop-api#wake"}}
        )
        item: dict[str, Any] = found.get("Item", {})
        return item


def ecs_event(deployment_id: str = "ecs-svc/1", *, name: str = "COMPLETED", **top: Any) -> Any:
    event = copy.deepcopy(load_event(f"ecs_deployment_{name.lower()}"))
    event["resources"] = [SERVICE_ARN]
    event["detail"]["deploymentId"] = deployment_id
    event.update(top)
    return event


@pytest.fixture
def world(offline_sfn: OfflineStepFunctions, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv(settings.LOCK_TABLE_NAME, TABLE)
    monkeypatch.setenv(settings.CLUSTER_NAME, "shop-dev")
    monkeypatch.setenv(settings.SERVICE_NAME, "shop-api")
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return World(offline_sfn, load_handler("wake_rollout", fresh=True))


def assert_woken_by(report: ExecutionReport, deployment_id: str, name: str) -> None:
    assert report.status == "SUCCEEDED", report.cause
    assert report.path == [WAIT]
    assert report.waits == [WaitRecord(WAIT, 0.0, "woken")]
    assert report.output["woken_by"] == "event"
    assert report.output["deployment_id"] == deployment_id
    assert report.output["settled"] == name
    assert report.output["elapsed"] == report.output["waited_seconds"] == 0


def test_the_deployments_event_during_the_wait_wakes_it_at_once(world: World) -> None:
    # GIVEN ECS finishes deployment 1 while the state waits for it
    world.during_wait.append(ecs_event("ecs-svc/1"))

    # WHEN the state waits
    report = world.wait_for("ecs-svc/1", "woken")

    # THEN the event woke it, and the item keeps neither token nor event
    assert_woken_by(report, "ecs-svc/1", "SERVICE_DEPLOYMENT_COMPLETED")
    assert world.outcomes == ["answered"]
    assert "token" not in world.item()
    assert "event_id" not in world.item()


def test_an_event_that_arrives_before_the_wait_parks_is_not_lost(world: World) -> None:
    # GIVEN ECS's FAILED event for deployment 1 arrived before the state parked its token
    assert world.send(ecs_event("ecs-svc/1", name="FAILED")) == "recorded"

    # WHEN the state waits / THEN parking found it and answered at once
    assert_woken_by(world.wait_for("ecs-svc/1", "early"), "ecs-svc/1", "SERVICE_DEPLOYMENT_FAILED")


@pytest.mark.parametrize(
    ("event", "outcome"),
    [
        (ecs_event("ecs-svc/0"), "ignored"),  # another deployment: an older one
        (ecs_event("ecs-svc/1", resources=[SERVICE_ARN.replace("shop-api", "cart")]), "ignored"),
    ],
)
def test_an_event_for_another_deployment_or_service_is_ignored(
    world: World, event: dict[str, Any], outcome: str
) -> None:
    # GIVEN an event for another deployment or service while the state waits for deployment 1
    world.during_wait.append(event)

    # WHEN the state waits
    report = world.wait_for("ecs-svc/1", "other")

    # THEN the event was ignored and the wait ran to its safety timeout
    assert world.outcomes == [outcome]
    assert report.path == [WAIT, "Safety poll"]
    assert report.waits == [WaitRecord(WAIT, 60.0, "timeout")]


def test_an_event_after_the_wait_timed_out_is_kept_for_the_next_wait(world: World) -> None:
    # GIVEN a wait that timed out (its token is still parked, the task no longer waits)
    assert world.wait_for("ecs-svc/1", "first").path == [WAIT, "Safety poll"]

    # WHEN the deployment's event arrives now, and the next wait parks
    outcome = world.send(ecs_event("ecs-svc/1"))
    report = world.wait_for("ecs-svc/1", "second")

    # THEN the stale token could not be answered, the event was kept, and it woke the next wait
    assert outcome == "wait over"
    assert_woken_by(report, "ecs-svc/1", "SERVICE_DEPLOYMENT_COMPLETED")


def test_an_event_wakes_one_wait_only(world: World) -> None:
    # GIVEN a wait woken by deployment 1's event
    world.during_wait.append(ecs_event("ecs-svc/1"))
    assert world.wait_for("ecs-svc/1", "woken").waits == [WaitRecord(WAIT, 0.0, "woken")]

    # WHEN the run waits again for the same deployment (e.g. its targets are not healthy yet)
    report = world.wait_for("ecs-svc/1", "again")

    # THEN nothing answers it before its safety timeout
    assert report.waits == [WaitRecord(WAIT, 60.0, "timeout")]
