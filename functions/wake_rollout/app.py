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
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pushgate.aws import Clients
from pushgate.errors import InvalidRequest
from pushgate.wake import DeploymentEvent, ParkRequest, Rendezvous, WakeResult, WakeTarget

if TYPE_CHECKING:  # annotations only: its import is ~2 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

# cold start: a missing LOCK_TABLE_NAME / CLUSTER_NAME / SERVICE_NAME fails here, clearly
TARGET = WakeTarget.from_environment(os.environ)
# Every call writes the wake item; only the second of a wait and its event answers the wait
# (Step Functions), only a safety poll looks at the service (ECS): those clients are made then.
_CLIENTS = Clients()
RENDEZVOUS = Rendezvous(
    _CLIENTS.now("dynamodb", config=None),
    _CLIENTS.on_first_use("stepfunctions", config=None),
    _CLIENTS.on_first_use("ecs"),
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
