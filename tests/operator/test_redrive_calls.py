"""`pushgate redrive`: the exact call it makes, and its refusals, with botocore's Stubber.

moto has no RedriveExecution (its server answers it with an error), so what redrive sends to
Step Functions is checked against the API model by botocore's Stubber instead: a response
that is not queued, or a parameter that differs, fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pushgate_cli.operator import commands
from pushgate_cli.operator.account import Deployment, StackRef
from pushgate_cli.operator.errors import AwsCallFailed, Refused

pytestmark = pytest.mark.unit

MACHINE = "arn:aws:states:eu-west-1:111122223333:stateMachine:pushgate-shop-prod-deploy"
ARN = "arn:aws:states:eu-west-1:111122223333:execution:pushgate-shop-prod-deploy:push-7"
STARTED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def deployment() -> Deployment:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    outputs = {"DeployStateMachineArn": MACHINE, "RepositoryName": "shop/api"}
    return Deployment(
        session, StackRef("pushgate-shop-prod", "eu-west-1", "prod"), "eu-west-1", outputs
    )


@pytest.fixture
def stubbed(deployment: Deployment) -> Iterator[Stubber]:
    with Stubber(deployment.client("stepfunctions")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _described(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "executionArn": ARN,
        "stateMachineArn": MACHINE,
        "name": "push-7",
        "status": status,
        "startDate": STARTED,
        "input": '{"repository": "shop/api", "digest": "sha256:' + "a" * 64 + '"}',
        **fields,
    }


@pytest.mark.parametrize(
    ("status", "error"), [("FAILED", "States.Runtime"), ("TIMED_OUT", None), ("ABORTED", None)]
)
def test_a_run_that_died_on_its_way_is_redriven_with_exactly_its_arn(
    deployment: Deployment, stubbed: Stubber, status: str, error: str | None
) -> None:
    # GIVEN a run that died before it could announce an outcome, redrivable
    died = _described(status, stopDate=STARTED, redriveStatus="REDRIVABLE")
    if error:
        died["error"] = error
    stubbed.add_response("describe_execution", died, {"executionArn": ARN})
    stubbed.add_response("redrive_execution", {"redriveDate": STARTED}, {"executionArn": ARN})
    stubbed.add_response("describe_execution", _described("RUNNING"), {"executionArn": ARN})

    # WHEN the operator redrives it by name
    redriven = commands.redrive(deployment, "push-7")

    # THEN RedriveExecution was called with its ARN (and nothing else), and it runs again
    assert redriven.status == "RUNNING"


@pytest.mark.parametrize(
    ("described", "why"),
    [
        (_described("SUCCEEDED", stopDate=STARTED, output="{}"), "nothing to redrive"),
        (_described("RUNNING"), "still RUNNING"),
        (
            _described("FAILED", stopDate=STARTED, error="DeploymentRolledBack"),
            "replay the push instead: pushgate replay sha256:aaaa",
        ),
        (
            _described(
                "FAILED",
                stopDate=STARTED,
                error="States.Runtime",
                redriveStatus="NOT_REDRIVABLE",
                redriveStatusReason="Execution is older than 14 days",
            ),
            "cannot be redriven: Execution is older than 14 days",
        ),
    ],
)
def test_a_run_whose_end_does_not_allow_a_redrive_is_refused_without_a_call(
    deployment: Deployment, stubbed: Stubber, described: dict[str, Any], why: str
) -> None:
    # GIVEN a run that succeeded, still runs, compensated, or that AWS will not redrive
    stubbed.add_response("describe_execution", described, {"executionArn": ARN})

    # WHEN the operator redrives it THEN it is refused, saying why, and no redrive was sent
    # (the Stubber fails on any call that is not queued)
    with pytest.raises(Refused, match=why):
        commands.redrive(deployment, ARN)


def test_step_functions_refusing_the_redrive_is_a_refusal(
    deployment: Deployment, stubbed: Stubber
) -> None:
    stubbed.add_response(
        "describe_execution", _described("FAILED", stopDate=STARTED, error="States.Timeout")
    )
    stubbed.add_client_error(
        "redrive_execution",
        service_error_code="ExecutionNotRedrivable",
        service_message="the execution has reached its redrive limit",
        expected_params={"executionArn": ARN},
    )
    with pytest.raises(Refused, match="its redrive limit"):
        commands.redrive(deployment, ARN)


def test_redrive_of_another_state_machines_execution_is_refused_before_any_call(
    deployment: Deployment, stubbed: Stubber
) -> None:
    other = "arn:aws:states:eu-west-1:111122223333:execution:billing-deploy:push-1"
    with pytest.raises(Refused, match="not of pushgate-shop-prod's deploy state machine"):
        commands.redrive(deployment, other)


# what moto's server answers RedriveExecution with (it has none): Werkzeug's 500 page
ERROR_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was "
    "unable to complete your request.</p>\n"
)


def test_an_unexpected_error_reply_is_its_code_and_first_line(
    deployment: Deployment, stubbed: Stubber
) -> None:
    # GIVEN a run that died on its way, and a service answering its redrive with an HTML page
    stubbed.add_response(
        "describe_execution", _described("ABORTED", stopDate=STARTED), {"executionArn": ARN}
    )
    stubbed.add_client_error(
        "redrive_execution",
        service_error_code="500",
        service_message=ERROR_PAGE,
        http_status_code=500,
        expected_params={"executionArn": ARN},
    )

    # WHEN the operator redrives it
    with pytest.raises(AwsCallFailed) as raised:
        commands.redrive(deployment, ARN)

    # THEN the error is one line: the code and the page's first text
    assert str(raised.value) == "redriving push-7 failed: 500: 500 Internal Server Error"


def test_a_long_error_message_is_trimmed_to_its_first_line(
    deployment: Deployment, stubbed: Stubber
) -> None:
    stubbed.add_response("describe_execution", _described("ABORTED", stopDate=STARTED))
    stubbed.add_client_error(
        "redrive_execution",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded " + "x" * 300 + "\nsecond line",
    )
    with pytest.raises(AwsCallFailed) as raised:
        commands.redrive(deployment, ARN)
    line = str(raised.value)
    assert line.startswith("redriving push-7 failed: ThrottlingException: Rate exceeded xxx")
    assert line.endswith("…")
    assert "\n" not in line
    assert "second line" not in line
