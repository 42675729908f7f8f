"""The safety poll's own look at the service (wake_rollout on a retry), against moto's ECS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pushgate.errors import HealthDeadlineExceeded
from pushgate.wake import ParkRequest, Rendezvous, WakeTarget

from tests.helpers import load_event

pytestmark = pytest.mark.aws

REGION = "us-west-2"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="locks",
            KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield {
            "dynamodb": dynamodb,
            "sfn": boto3.client("stepfunctions", region_name=REGION),
            "ecs": boto3.client("ecs", region_name=REGION),
        }


def a_retry(polls: int, deadline: int) -> ParkRequest:
    return ParkRequest.from_event(
        {**load_event("wake_rollout_park"), "polls": polls, "deadline_seconds": deadline}
    )


def test_a_failed_look_at_the_service_ends_nothing_but_the_deadline_still_does(
    clients: dict[str, Any],
) -> None:
    # GIVEN a target whose cluster ECS does not know (DescribeServices fails)
    target = WakeTarget(table="locks", cluster="gone", service="servicetest")
    rendezvous = Rendezvous(clients["dynamodb"], clients["sfn"], clients["ecs"], target)

    # WHEN the first safety poll parks, and later the one at the deadline
    parked = rendezvous.park(a_retry(polls=1, deadline=900))

    # THEN the failed look answered nothing and the wait parked again; at 900 s it is over
    assert parked["outcome"] == "parked"
    with pytest.raises(HealthDeadlineExceeded, match="was not healthy after 900 seconds"):
        rendezvous.park(a_retry(polls=15, deadline=900))
