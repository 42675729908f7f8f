"""Lambda ``wake_rollout``: wakes the health wait when ECS says the rollout has settled.

Two callers, two event shapes (`pushgate.wake`):

- the state "Wait for ECS to say so" (``lambda:invoke.waitForTaskToken``):
  ``{"token", "deployments", "execution", "task_definition", "polls", "poll_seconds",
  "deadline_seconds", "elapsed"}`` parks the task token for the newest deployment; on a retry
  (a safety poll, ``polls`` > 0) it first looks at the service (``DescribeServices``) and
  answers its own token when the rollout settled; it raises ``HealthDeadlineExceeded`` when
  the deadline is reached;
- the EventBridge rule on "ECS Deployment State Change" of this service: the event, which
  answers the parked wait (``SendTaskSuccess``) when it is for the deployment parked.

Returns ``{"outcome", "reason"}`` (parked, answered, recorded, ignored, wait over). Raises
``InvalidRequest`` for an event of neither shape. One function, so the event usually finds the
instance the park warmed: one INIT per deploy.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pushgate.errors import InvalidRequest
from pushgate.wake import DeploymentEvent, ParkRequest, Rendezvous, WakeResult, WakeTarget

logger = Logger()

# cold start: a missing LOCK_TABLE_NAME / CLUSTER_NAME / SERVICE_NAME fails here, clearly
TARGET = WakeTarget.from_environment(os.environ)
RENDEZVOUS = Rendezvous(
    boto3.client("dynamodb"),
    boto3.client("stepfunctions"),
    boto3.client("ecs", config=Config(retries={"mode": "standard", "max_attempts": 5})),
    TARGET,
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> WakeResult:
    if not isinstance(event, dict):
        raise InvalidRequest("the event is not an object")
    if "source" in event:
        deployment_event = DeploymentEvent.from_event(event)
        logger.append_keys(deployment_id=deployment_event.deployment_id)
        result = RENDEZVOUS.record(deployment_event)
    else:
        request = ParkRequest.from_event(event)
        logger.append_keys(
            deployment_id=request.deployment_id, execution=request.execution, polls=request.polls
        )
        result = RENDEZVOUS.park(request)
    logger.info("health wait", extra=dict(result))
    return result
