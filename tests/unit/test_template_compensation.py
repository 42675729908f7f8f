"""The dead-run compensation in template.yaml: what invokes it, what it may touch, what it
is told (tests/statemachine/test_dead_run.py runs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pushgate import settings
from pushgate_cli.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RESOURCES: dict[str, Any] = load_template(ROOT / "template.yaml")["Resources"]
FUNCTION: dict[str, Any] = RESOURCES["CompensateRunFunction"]["Properties"]
DEPLOY_EXECUTIONS = {
    "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
    "${AWS::StackName}-deploy:*"
}


def statements() -> list[dict[str, Any]]:
    return [s for p in FUNCTION["Policies"] if "Statement" in p for s in p["Statement"]]


def test_the_status_change_rule_invokes_it_and_only_that_rule_may() -> None:
    # GIVEN the ExecutionStatusRule and the function's resource policy
    rule = RESOURCES["ExecutionStatusRule"]["Properties"]
    permission = RESOURCES["CompensateRunPermission"]["Properties"]

    # THEN the rule matches the deploy machine's dead runs and targets the function
    assert rule["EventPattern"]["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert {"Fn::GetAtt": ["CompensateRunFunction", "Arn"]} in [t["Arn"] for t in rule["Targets"]]
    # AND EventBridge may invoke it for that rule only
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["ExecutionStatusRule", "Arn"]}


def test_its_permissions_are_scoped_to_this_stack() -> None:
    # GIVEN the function's own statements
    by_sid = {s["Sid"]: s for s in statements()}

    # THEN it reads only the deploy machine's executions, touches only the one service and the
    # lock table, and invokes only run_migrations
    assert by_sid["ReadTheDeadRunsHistory"]["Resource"] == DEPLOY_EXECUTIONS
    assert by_sid["ReleaseTheDeadRunsLock"]["Action"] == "dynamodb:DeleteItem"
    assert by_sid["ReleaseTheDeadRunsLock"]["Resource"] == {"Fn::GetAtt": ["LockTable", "Arn"]}
    assert "*" not in str(by_sid["ScaleAndRestoreTheOneService"]["Resource"]).split("service/")[0]
    invoke = [p["LambdaInvokePolicy"] for p in FUNCTION["Policies"] if "LambdaInvokePolicy" in p]
    assert invoke == [{"FunctionName": {"Ref": "RunMigrationsFunction"}}]
    # AND an invocation it cannot process is parked, not lost
    assert FUNCTION["DeadLetterQueue"]["TargetArn"] == {
        "Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]
    }


def test_its_environment_is_named_in_settings() -> None:
    # GIVEN the names pushgate.settings spells
    names = {v for k, v in vars(settings).items() if k.isupper() and isinstance(v, str)}

    # THEN every variable the template gives it is one of them
    assert set(FUNCTION["Environment"]["Variables"]) <= names
