"""The health wait's inputs: the wait request, ECS's event, the service it is for."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pushgate import settings
from pushgate.errors import InvalidRequest
from pushgate.wake import DeploymentEvent, ParkRequest, WakeTarget

from tests.helpers import load_event

pytestmark = pytest.mark.unit

TARGET = WakeTarget(table="locks", cluster="default", service="servicetest")


def test_ecs_documented_event_is_read_with_its_deployment_and_service() -> None:
    # GIVEN AWS's documented SERVICE_DEPLOYMENT_COMPLETED event / WHEN it is read
    event = DeploymentEvent.from_event(load_event("ecs_deployment_completed"))

    # THEN it names its deployment, and the service is the target's
    assert event.name == "SERVICE_DEPLOYMENT_COMPLETED"
    assert event.deployment_id == "ecs-svc/123"
    assert TARGET.owns(event.service_arn)
    assert event.to_json()["time"] == "2020-05-23T12:31:14Z"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:ecs:us-west-2:111122223333:service/default/other",
        "arn:aws:ecs:us-west-2:111122223333:service/other/servicetest",
        "arn:aws:ecs:us-west-2:111122223333:service/servicetest",  # the old ARN format
        "servicetest",
    ],
)
def test_another_service_is_not_the_targets(arn: str) -> None:
    assert not TARGET.owns(arn)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(source="aws.ecr"), "is not an aws.ecs"),
        (lambda e: e.update({"detail-type": "ECS Task State Change"}), "is not an aws.ecs"),
        (lambda e: e.pop("detail"), "has no detail object"),
        (lambda e: e.update(resources=[]), "names no service"),
        (lambda e: e["detail"].pop("deploymentId"), "has no deploymentId"),
        (lambda e: e["detail"].update(eventName=7), "has no eventName"),
    ],
)
def test_a_malformed_ecs_event_is_an_invalid_request_saying_what_is_wrong(
    change: Any, reason: str
) -> None:
    # GIVEN the documented event with one thing wrong
    event = copy.deepcopy(load_event("ecs_deployment_completed"))
    change(event)

    # WHEN it is read / THEN InvalidRequest says what
    with pytest.raises(InvalidRequest, match=reason):
        DeploymentEvent.from_event(event)


def test_a_wait_request_needs_its_token_deployments_and_execution() -> None:
    # GIVEN the state's sample request / WHEN it is read, whole and without its token
    request = ParkRequest.from_event(load_event("wake_rollout_park"))
    broken = {k: v for k, v in load_event("wake_rollout_park").items() if k != "token"}

    # THEN the whole one is read, the other refused naming what is missing
    assert request.deployment_id == "ecs-svc/123"
    with pytest.raises(InvalidRequest, match="has no token"):
        ParkRequest.from_event(broken)


def test_a_wait_for_a_service_that_is_gone_waits_for_no_deployment() -> None:
    # GIVEN describeServices found no deployment (the service is gone) / WHEN it is read
    request = ParkRequest.from_event({**load_event("wake_rollout_park"), "deployments": []})

    # THEN it waits for none, and a deployment without an Id is refused
    assert request.deployment_id is None
    with pytest.raises(InvalidRequest, match="Id"):
        ParkRequest.from_event({**load_event("wake_rollout_park"), "deployments": [{"Id": 1}]})


def test_the_target_needs_every_setting_and_names_the_missing_ones() -> None:
    # GIVEN an environment without the table / WHEN the target is read
    with pytest.raises(InvalidRequest, match=settings.LOCK_TABLE_NAME):
        WakeTarget.from_environment({settings.CLUSTER_NAME: "c", settings.SERVICE_NAME: "s"})

    # THEN with all three it keys the wait by <cluster>/<service>#wake
    target = WakeTarget.from_environment(
        {settings.LOCK_TABLE_NAME: "t", settings.CLUSTER_NAME: "c", settings.SERVICE_NAME: "s"}
    )
    assert target.key == {"lock_id": {"S": "c/s#wake"}}


def test_a_wait_request_counts_its_safety_polls_into_the_seconds_so_far() -> None:
    # GIVEN the third attempt of a wait (two safety polls ran out) that was entered at 30 s
    request = ParkRequest.from_event(
        {**load_event("wake_rollout_park"), "polls": 2, "poll_seconds": 60, "elapsed": 30}
    )

    # THEN the seconds counted when it parks are 30 + 2 x 60
    assert request.counted == 150


@pytest.mark.parametrize(
    ("field", "value"),
    [("polls", -1), ("poll_seconds", 0), ("elapsed", "60"), ("deadline_seconds", True)],
)
def test_a_wait_request_with_a_bad_count_is_refused_naming_it(field: str, value: Any) -> None:
    # GIVEN the sample request with one count that is not a whole number in range
    event = {**load_event("wake_rollout_park"), field: value}

    # WHEN it is read / THEN InvalidRequest names the field
    with pytest.raises(InvalidRequest, match=field):
        ParkRequest.from_event(event)
