"""The EventBridge rules of template.yaml, matched with EventBridge's own pattern semantics.

Each rule's pattern is read from template.yaml with the parameters substituted the way
CloudFormation would, put on a bus of moto's EventBridge (which implements the pattern language,
`wildcard` and `prefix` included), and the sample events are put on that bus: an event the rule
matches is delivered to the rule's SQS target, one it does not match is not.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pushgate_cli.template import Resolver, load_template, resource

from tests.helpers import load_event

pytestmark = pytest.mark.aws

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "pushgate-rehearsal"  # what pushgate_cli.template.Resolver answers for AWS::StackName
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-deploy"
REPOSITORY = "my-repository-name"  # the repository of AWS's documented sample event


def rule_pattern(logical_id: str, **parameters: str) -> dict[str, Any]:
    """The rule's EventPattern as CloudFormation would deploy it with these parameters."""
    resolver = Resolver(
        TEMPLATE,
        parameters,
        refs={"DeployStateMachine": STATE_MACHINE_ARN},
        region=REGION,
        account_id=ACCOUNT,
    )
    pattern = resolver.resolve(resource(TEMPLATE, logical_id)["Properties"]["EventPattern"])
    assert isinstance(pattern, dict)
    return pattern


class Bus:
    """One EventBridge rule on moto's default bus, delivering to an SQS queue."""

    def __init__(self, pattern: Mapping[str, Any]) -> None:
        self.events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        self.sqs = sqs
        self.queue_url = sqs.create_queue(QueueName="delivered")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.events.put_rule(Name="under-test", EventPattern=json.dumps(pattern))
        self.events.put_targets(Rule="under-test", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def delivers(self, event: Mapping[str, Any]) -> bool:
        """Put `event` on the bus; True when the rule delivered it to its target."""
        response = self.events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": list(event.get("resources", [])),
                }
            ]
        )
        assert response["FailedEntryCount"] == 0
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        delivered = messages.get("Messages", [])
        for message in delivered:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(delivered) == 1


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def ecr_push(**detail: str) -> dict[str, Any]:
    """AWS's documented sample push (tests/events/ecr_push.json) with some detail changed."""
    event: dict[str, Any] = copy.deepcopy(load_event("ecr_push"))
    event["detail"].update(detail)
    return event


# --- EcrPushRule: which pushes start a deployment ---------------------------------------------


@pytest.mark.usefixtures("aws")
def test_the_documented_ecr_push_event_starts_a_deployment() -> None:
    # GIVEN the push rule for the sample's repository, with the default tag pattern
    bus = Bus(rule_pattern("EcrPushRule", RepositoryName=REPOSITORY))
    # WHEN ECR emits AWS's documented sample "ECR Image Action" for a successful PUSH
    # THEN the rule delivers it to the state machine
    assert bus.delivers(load_event("ecr_push"))


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("a failed push", load_event("ecr_push_failed")),
        ("a DELETE", load_event("ecr_delete")),
        ("a push to another repository", ecr_push(**{"repository-name": "another-repository"})),
        (
            "a push whose repository only starts alike",
            ecr_push(**{"repository-name": REPOSITORY + "-x"}),
        ),
    ],
)
def test_pushes_that_must_not_deploy_are_ignored(name: str, event: dict[str, Any]) -> None:
    # GIVEN the push rule for the sample's repository
    bus = Bus(rule_pattern("EcrPushRule", RepositoryName=REPOSITORY))
    # WHEN the event is emitted THEN nothing starts
    assert not bus.delivers(event), name


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("tag_pattern", "tag", "deploys"),
    [
        ("v*", "v1.4.2", True),
        ("v*", "latest", False),
        ("v*", "dev-v1", False),
        ("release-*-prod", "release-2025.03-prod", True),
        ("release-*-prod", "release-2025.03-qa", False),
        ("latest", "latest", True),
        ("latest", "latest2", False),
    ],
)
def test_only_tags_matching_the_tag_pattern_deploy(
    tag_pattern: str, tag: str, deploys: bool
) -> None:
    # GIVEN the push rule with an ImageTagPattern (EventBridge wildcard matching)
    bus = Bus(rule_pattern("EcrPushRule", RepositoryName=REPOSITORY, ImageTagPattern=tag_pattern))
    # WHEN a successful push of the repository carries the tag
    # THEN it deploys exactly when the tag matches the whole pattern
    assert bus.delivers(ecr_push(**{"image-tag": tag})) is deploys


@pytest.mark.usefixtures("aws")
def test_a_push_without_a_tag_never_deploys() -> None:
    # GIVEN the push rule with the match-everything tag pattern
    bus = Bus(rule_pattern("EcrPushRule", RepositoryName=REPOSITORY, ImageTagPattern="*"))
    event = load_event("ecr_push")
    del event["detail"]["image-tag"]
    # WHEN an image is pushed by digest only THEN no run starts (documented in deploying.md)
    assert not bus.delivers(event)


# --- AlertRule: which of pushgate's own events reach the alert topic ---------------------------


def pushgate_event(detail_type: str, state_machine: str = f"{STACK}-deploy") -> dict[str, Any]:
    """An event the state machine puts on the bus (fields per the contract)."""
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{state_machine}:run-1"
    return {
        "source": "pushgate",
        "detail-type": detail_type,
        "detail": {
            "environment": "dev",
            "repository": REPOSITORY,
            "tag": "latest",
            "digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
            "from_revision": "3f1c9a2b7d10",
            "to_revision": "c47a91e2b5d8",
            "execution_arn": execution,
            "console_url": f"https://console.aws.amazon.com/states/home#/v2/executions/details/{execution}",
            "error": "DeploymentFailed",
            "cause": "the new tasks never became healthy",
        },
    }


ALERTING = ["Deployment Failed", "Deployment Rolled Back", "Rollback Failed", "Deployment Rejected"]


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("detail_type", ALERTING)
def test_failures_rollbacks_and_rejections_of_this_stack_alert(detail_type: str) -> None:
    # GIVEN the alert rule
    bus = Bus(rule_pattern("AlertRule", EnvironmentName="dev"))
    # WHEN this stack's state machine announces a failure THEN it goes to the alert topic
    assert bus.delivers(pushgate_event(detail_type))


@pytest.mark.usefixtures("aws")
def test_success_does_not_page_anyone() -> None:
    bus = Bus(rule_pattern("AlertRule", EnvironmentName="dev"))
    # WHEN a deployment succeeds THEN the event stays on the bus for whoever wants it
    assert not bus.delivers(pushgate_event("Deployment Succeeded"))


@pytest.mark.usefixtures("aws")
def test_another_stacks_failures_do_not_alert_this_topic() -> None:
    # GIVEN the alert rule of this stack, on a bus other pushgate stacks also use
    bus = Bus(rule_pattern("AlertRule", EnvironmentName="dev"))
    # WHEN another stack's state machine announces a failure THEN this topic stays quiet
    assert not bus.delivers(pushgate_event("Deployment Failed", "pushgate-billing-dev-deploy"))
    assert not bus.delivers(pushgate_event("Deployment Failed", f"{STACK}-deploy-copy"))


# --- ExecutionStatusRule: runs that died -------------------------------------------------------


def execution_status(status: str, state_machine_arn: str = STATE_MACHINE_ARN) -> dict[str, Any]:
    """AWS's documented Step Functions status-change event, for a run of `state_machine_arn`."""
    event: dict[str, Any] = copy.deepcopy(load_event("sfn_execution_failed"))
    event["detail"]["stateMachineArn"] = state_machine_arn
    event["detail"]["status"] = status
    return event


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("status", "alerts"),
    [
        ("FAILED", True),
        ("TIMED_OUT", True),
        ("ABORTED", True),
        ("SUCCEEDED", False),
        ("RUNNING", False),
    ],
)
def test_runs_that_end_badly_alert(status: str, alerts: bool) -> None:
    # GIVEN the execution-status rule
    bus = Bus(rule_pattern("ExecutionStatusRule", EnvironmentName="dev"))
    # WHEN a run of this state machine changes status THEN only bad endings alert
    assert bus.delivers(execution_status(status)) is alerts


@pytest.mark.usefixtures("aws")
def test_other_state_machines_runs_do_not_alert() -> None:
    bus = Bus(rule_pattern("ExecutionStatusRule", EnvironmentName="dev"))
    other = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:somebody-elses"
    assert not bus.delivers(execution_status("FAILED", other))
