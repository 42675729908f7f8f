"""A run that dies anyway (States.Runtime past a States.ALL Catch) is compensated from outside:
the status-change event's compensate_run reads what the dead run had recorded and undoes it.

The run is a small machine that does what a deploy run does before it dies (takes the lock,
reads the serving version, notes the starting revision, migrates with the real run_migrations
against a real PostgreSQL, points the service at a new revision) and then fails with
States.Runtime, which its States.ALL Catch cannot catch (gap 12). compensate_run is the shipped
handler, invoked with the event the ExecutionStatusRule would deliver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from pushgate import settings
from pushgate_cli.handlers import load_handler
from pushgate_cli.lambda_context import LambdaContext
from pushgate_cli.offline import ExecutionReport, OfflineStepFunctions
from pushgate_cli.schema import move_to

from tests.helpers import CHAIN, HEAD, MIGRATIONS, revision

pytestmark = pytest.mark.statemachine

PREVIOUS = CHAIN[-2]
CLUSTER, SERVICE, LOCK_TABLE, BUS = "c1", "web", "locks", "deployments"
LOCK_ID = f"{CLUSTER}/{SERVICE}"


class World:
    """The emulated account and database one dead run happens in."""

    def __init__(self, sfn: OfflineStepFunctions, database_url: str) -> None:
        self.sfn, self.database_url = sfn, database_url
        ecs = sfn.client("ecs")
        ecs.create_cluster(clusterName=CLUSTER)
        self.previous_td, self.new_td = (
            ecs.register_task_definition(
                family=SERVICE,
                containerDefinitions=[{"name": "app", "image": f"repo@{image}", "memory": 256}],
            )["taskDefinition"]["taskDefinitionArn"]
            for image in ("old", "new")
        )
        ecs.create_service(
            cluster=CLUSTER, serviceName=SERVICE, taskDefinition=self.previous_td, desiredCount=2
        )
        sfn.client("dynamodb").create_table(
            TableName=LOCK_TABLE,
            KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sfn.client("events").create_event_bus(Name=BUS)

    def service(self) -> tuple[str, int]:
        found = self.sfn.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])
        return found["services"][0]["taskDefinition"], found["services"][0]["desiredCount"]

    def lock(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.sfn.client("dynamodb").scan(TableName=LOCK_TABLE)[
            "Items"
        ]
        return items

    def alerts(self, execution_arn: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.sfn.put_events()
            if e.get("Source") == "pushgate" and e["Detail"].get("execution_arn") == execution_arn
        ]


def dying_run(run_migrations_arn: str, ending: dict[str, Any]) -> str:
    """A run that takes the lock, remembers the service, notes its starting revision, migrates,
    points the service at the new revision, then ends with ``ending``."""
    return json.dumps(
        {
            "StartAt": "Take the deployment lock",
            "States": {
                "Take the deployment lock": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {
                        "TableName": LOCK_TABLE,
                        "Item": {
                            "lock_id": {"S": LOCK_ID},
                            "owner": {"S.$": "$$.Execution.Id"},
                        },
                    },
                    "ResultSelector": {"id": LOCK_ID},
                    "ResultPath": "$.lock",
                    "Next": "Remember the serving version",
                },
                "Remember the serving version": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:ecs:describeServices",
                    "Parameters": {"Cluster": CLUSTER, "Services": [SERVICE]},
                    "ResultSelector": {"services.$": "$.Services"},
                    "ResultPath": "$.previous",
                    "Next": "Note the starting revision",
                },
                "Note the starting revision": {
                    "Type": "Pass",
                    "Result": {"from_revision": PREVIOUS},
                    "ResultPath": "$.start",
                    "Next": "Run migrations",
                },
                "Run migrations": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": run_migrations_arn,
                        "Payload": {"action": "upgrade"},
                    },
                    "ResultSelector": {"applied.$": "$.Payload.applied"},
                    "ResultPath": "$.migration",
                    "Next": "Point the service at the new revision",
                },
                "Point the service at the new revision": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:ecs:updateService",
                    "Parameters": {
                        "Cluster": CLUSTER,
                        "Service": SERVICE,
                        "TaskDefinition.$": "$.rollout.task_definition",
                    },
                    "ResultPath": None,
                    "Next": "End",
                },
                "End": ending,
            },
        }
    )


DIES_OF_RUNTIME = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "run-migrations", "Payload": {"x.$": "$.no_such_field"}},
    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Compensate inside"}],
    "End": True,
}
ENDS_ON_ITS_OWN = {"Type": "Fail", "Error": "DeploymentRolledBack", "Cause": "rolled back"}


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    move_to(database_url, MIGRATIONS, PREVIOUS)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv(settings.DATABASE_URL, database_url)
    monkeypatch.delenv(settings.DATABASE_SECRET_ARN, raising=False)
    monkeypatch.delenv(settings.MIGRATIONS_DIR, raising=False)
    monkeypatch.setenv(settings.MIGRATIONS_SOURCE, "bundled")  # this hand-made run names no image
    with OfflineStepFunctions() as sfn:
        yield World(sfn, database_url)


def run_dying(
    world: World,
    ending: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    shape: Callable[[dict[str, Any]], None] = lambda states: None,
) -> tuple[ExecutionReport, ModuleType]:
    """Run the dying machine (its states changed by ``shape`` first); return its report and
    compensate_run, cold-started for it."""
    migrations = load_handler("run_migrations", fresh=True)
    arn = world.sfn.register_lambda("run-migrations", migrations.lambda_handler)
    states = json.loads(dying_run(arn, ending))
    shape(states["States"])
    states["States"]["Compensate inside"] = {"Type": "Pass", "End": True}
    machine = world.sfn.create_state_machine("deploy", json.dumps(states))
    report = world.sfn.run(
        machine,
        {
            "push": {"repository": "app", "tag": "v2", "digest": "sha256:" + "a" * 64},
            "rollout": {
                "previous_task_definition": world.previous_td,
                "task_definition": world.new_td,
            },
        },
        name="dying",
    )
    for name, value in {
        settings.DEPLOY_STATE_MACHINE_ARN: machine,
        settings.CLUSTER_NAME: CLUSTER,
        settings.SERVICE_NAME: SERVICE,
        settings.LOCK_TABLE_NAME: LOCK_TABLE,
        settings.EVENT_BUS_NAME: BUS,
        settings.ENVIRONMENT_NAME: "test",
        settings.RUN_MIGRATIONS_FUNCTION: "run-migrations",
        settings.RESTORE_PREVIOUS_VERSION: "true",
    }.items():
        monkeypatch.setenv(name, value)
    return report, load_handler("compensate_run", fresh=True)


def status_change(report: ExecutionReport, machine_arn: str) -> dict[str, Any]:
    """The event the ExecutionStatusRule delivers for this execution."""
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": report.execution_arn,
            "stateMachineArn": machine_arn,
            "status": report.status,
        },
    }


def test_a_run_that_died_of_a_runtime_error_is_compensated_from_outside(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a run that migrated PREVIOUS -> HEAD, pointed the service at a new revision, and
    # then died of States.Runtime (its States.ALL Catch could not catch it)
    report, compensate_run = run_dying(world, DIES_OF_RUNTIME, monkeypatch)
    assert (report.status, report.error) == ("FAILED", "States.Runtime")
    assert "Compensate inside" not in report.path
    assert revision(world.database_url) == HEAD
    assert world.service() == (world.new_td, 2)
    event = status_change(report, compensate_run.CONFIG.state_machine_arn)
    context = LambdaContext.invocation("compensate-run", timeout_s=900, memory_mb=256)

    # WHEN the status-change rule invokes compensate_run, twice (EventBridge may deliver again)
    first = compensate_run.lambda_handler(event, context)
    second = compensate_run.lambda_handler(event, context)

    # THEN the schema is back at the run's starting revision, the previous version serves at
    # its count, and the lock is released
    assert revision(world.database_url) == PREVIOUS
    assert world.service() == (world.previous_td, 2)
    assert world.lock() == []
    assert first["outcome"] == "rolled_back"
    assert first["revert"]["applied"] == [HEAD]
    # AND one "Deployment Rolled Back" names both revisions and why the run died
    alerts = world.alerts(report.execution_arn)
    assert alerts[0]["DetailType"] == "Deployment Rolled Back"
    detail = alerts[0]["Detail"]
    assert (detail["from_revision"], detail["to_revision"]) == (PREVIOUS, HEAD)
    assert detail["error"] == "States.Runtime"
    # AND the second delivery found nothing left to undo
    assert second["outcome"] == "nothing_to_undo"
    assert second["revert"]["applied"] == []


def test_a_run_that_ended_through_its_own_fail_state_is_left_alone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a run that ended with the definition's own DeploymentRolledBack (here: without
    # undoing anything, so any change would show)
    report, compensate_run = run_dying(world, ENDS_ON_ITS_OWN, monkeypatch)
    assert (report.status, report.error) == ("FAILED", "DeploymentRolledBack")
    event = status_change(report, compensate_run.CONFIG.state_machine_arn)
    context = LambdaContext.invocation("compensate-run", timeout_s=900, memory_mb=256)

    # WHEN compensate_run gets its status change
    result = compensate_run.lambda_handler(event, context)

    # THEN it does nothing: the run compensated and alerted itself
    assert result["outcome"] == "compensated_itself"
    assert revision(world.database_url) == HEAD
    assert world.service() == (world.new_td, 2)
    assert world.alerts(report.execution_arn) == []
    # AND it made no client but Step Functions' (the lock's and the alert's are made when a run
    # needs them: most failures end through the definition's own compensation)
    assert {name: c.made() for name, c in compensate_run.CLIENTS.items()} == dict.fromkeys(
        ("dynamodb", "events", "ecs", "lambda"), False
    )
