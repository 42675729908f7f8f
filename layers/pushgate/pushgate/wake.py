"""The health wait's rendezvous: a parked task token meets ECS's deployment event.

The state "Wait for ECS to say so" (``lambda:invoke.waitForTaskToken``) calls ``wake_rollout``
with its task token and the deployment it waits for: :meth:`Rendezvous.park`. EventBridge calls
the same function with an "ECS Deployment State Change" event: :meth:`Rendezvous.record`. Both
write one item of the lock table, ``<cluster>/<service>#wake``, with ``UpdateItem`` returning
the item as written. DynamoDB applies writes to one item one after the other, so whichever
comes second sees the other's write and answers the wait (``SendTaskSuccess``): an event that
arrives before the token is parked is not lost. Answering first removes the token and the
event from the item, conditional on the token, so a wait is answered at most once and an event
wakes at most one wait. An answer that finds the wait already over (its safety poll timed out)
puts the event back for the next wait of the same deployment.

An event is ignored when it is for another service, another deployment than the one parked, or
not a terminal one (``SERVICE_DEPLOYMENT_COMPLETED``, ``SERVICE_DEPLOYMENT_FAILED``). Waking
decides nothing: the state machine looks at the rollout again and judges it as before.

The safety poll is the wait's own Retry on ``States.Timeout`` (one transition per poll): the
state passes ``polls`` (``$$.State.RetryCount``, the waits that ran out), ``poll_seconds``,
``deadline_seconds`` and ``elapsed`` (the seconds counted before this wait). A retry
(``polls`` > 0) looks at the service itself before it parks (``DescribeServices``) and answers
its own token when the deployment it waits for settled (COMPLETED or FAILED) or is no longer
the newest, so a lost event is noticed one poll later. When ``elapsed + polls * poll_seconds``
reaches the deadline and nothing answered, the park raises `HealthDeadlineExceeded`. Every
answer carries ``elapsed`` (the seconds counted when parked plus the seconds waited) for the
next wait of the same rollout.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, TypedDict

from botocore.exceptions import ClientError

from pushgate.errors import HealthDeadlineExceeded
from pushgate.wake_inputs import (
    DETAIL_TYPE,
    EVENT_FIELDS,
    DeploymentEvent,
    ParkRequest,
    WakeTarget,
)

__all__ = [
    "DETAIL_TYPE",
    "DeploymentEvent",
    "ParkRequest",
    "Rendezvous",
    "WakeAnswer",
    "WakeResult",
    "WakeTarget",
]
TERMINAL_EVENTS: Final = frozenset({"SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"})
# SendTaskSuccess's answers when the wait is already over (timed out, or the run ended)
WAIT_OVER_ERRORS: Final = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
SETTLED_STATES: Final = frozenset({"COMPLETED", "FAILED"})  # a deployment's final RolloutState


class DynamoDbClient(Protocol):
    def update_item(self, **kwargs: Any) -> dict[str, Any]: ...


class SfnClient(Protocol):
    def send_task_success(self, **kwargs: Any) -> dict[str, Any]: ...


class EcsClient(Protocol):
    def describe_services(self, **kwargs: Any) -> dict[str, Any]: ...


Outcome = Literal["parked", "answered", "recorded", "ignored", "wait over"]
WokenBy = Literal["event", "safety poll"]


class WakeResult(TypedDict):
    """What wake_rollout returns: what it did, and why when it did nothing."""

    outcome: Outcome
    reason: str


class WakeAnswer(TypedDict):
    """The output of the woken task (SendTaskSuccess): what woke it (ECS's event or the safety
    poll's own look), what it saw, and the health wait's seconds so far."""

    woken_by: WokenBy
    deployment_id: str
    settled: str  # the event's name, or what the safety poll saw
    elapsed: int  # the seconds counted when the wait parked, plus the seconds it waited
    waited_seconds: int


@dataclass(frozen=True)
class _Seen:
    """What the safety poll saw of the deployment waited for."""

    deployment_id: str
    name: str


def _recorded_event(item: Mapping[str, Any]) -> DeploymentEvent | None:
    values = [item.get(field, {}).get("S") for field in EVENT_FIELDS]
    if not all(isinstance(v, str) for v in values):
        return None
    event_id, name, deployment_id, when = (str(v) for v in values)
    return DeploymentEvent(event_id, name, deployment_id, "", when)


class Rendezvous:
    """Park a wait, record an event; whichever comes second answers the wait."""

    def __init__(
        self,
        dynamodb: DynamoDbClient,
        sfn: SfnClient,
        ecs: EcsClient,
        target: WakeTarget,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._sfn = sfn
        self._ecs = ecs
        self._target = target
        self._clock = clock

    def park(self, request: ParkRequest) -> WakeResult:
        """Park the task token; answer at once when this deployment's event is already here or,
        on a safety poll, when the service shows it settled or replaced. Raises
        `HealthDeadlineExceeded` when nothing answered and the deadline is reached."""
        item = self._update(
            "SET #token = :token, deployment_id = :deployment, execution_arn = :execution, "
            "parked_at = :now, counted = :counted",
            {
                ":token": {"S": request.token},
                ":deployment": {"S": request.deployment_id or ""},
                ":execution": {"S": request.execution},
                ":now": {"N": repr(self._clock())},
                ":counted": {"N": str(request.counted)},
            },
        )
        if request.deployment_id is not None:
            event = _recorded_event(item)
            if event is not None and event.deployment_id == request.deployment_id:
                return self._answer(request.token, item, "event", event)
            seen = self._safety_poll(request.deployment_id) if request.polls > 0 else None
            if seen is not None:
                return self._answer(request.token, item, "safety poll", seen)
        if request.counted >= request.deadline_seconds:
            raise HealthDeadlineExceeded(
                f"{request.task_definition} was not healthy after {request.counted} seconds"
            )
        if request.deployment_id is None:
            return WakeResult(outcome="parked", reason="no deployment: only the deadline ends it")
        return WakeResult(outcome="parked", reason=f"waiting for {request.deployment_id}")

    def record(self, event: DeploymentEvent) -> WakeResult:
        """Record a terminal event of this service; answer the wait parked for its deployment."""
        if not self._target.owns(event.service_arn):
            return WakeResult(outcome="ignored", reason=f"{event.service_arn} is another service")
        if event.name not in TERMINAL_EVENTS:
            return WakeResult(outcome="ignored", reason=f"{event.name} does not settle a rollout")
        item = self._update(
            "SET " + ", ".join(f"{f} = :{f}" for f in EVENT_FIELDS), event.attributes()
        )
        token = item.get("token", {}).get("S")
        parked_for = item.get("deployment_id", {}).get("S")
        if not isinstance(token, str):
            return WakeResult(outcome="recorded", reason="no wait parked yet")
        if parked_for != event.deployment_id:
            return WakeResult(
                outcome="ignored",
                reason=f"the wait is for {parked_for}, the event for {event.deployment_id}",
            )
        return self._answer(token, item, "event", event)

    # --- internals ---------------------------------------------------------------------------
    def _safety_poll(self, deployment_id: str) -> _Seen | None:
        """What the service shows of the deployment waited for, when that ends the wait. A
        failed look (ECS throttling past the client's retries) ends nothing: the event, the next
        poll or the deadline will."""
        try:
            described = self._ecs.describe_services(
                cluster=self._target.cluster, services=[self._target.service]
            )
        except ClientError:
            return None
        services = described.get("services") or [{}]
        newest = (services[0].get("deployments") or [{}])[0]
        newest_id, state = newest.get("id"), newest.get("rolloutState")
        if newest_id != deployment_id:
            return _Seen(deployment_id, f"replaced by {newest_id or 'no deployment'}")
        if state in SETTLED_STATES:
            return _Seen(deployment_id, str(state))
        return None

    def _answer(
        self,
        token: str,
        item: Mapping[str, Any],
        woken_by: WokenBy,
        seen: DeploymentEvent | _Seen,
    ) -> WakeResult:
        if not self._claim(token):
            return WakeResult(outcome="ignored", reason="the wait was answered already")
        now = self._clock()
        waited = max(0, math.floor(now - float(item.get("parked_at", {}).get("N", now))))
        counted = int(item.get("counted", {}).get("N", "0"))
        answer = WakeAnswer(
            woken_by=woken_by,
            deployment_id=seen.deployment_id,
            settled=seen.name,
            elapsed=counted + waited,
            waited_seconds=waited,
        )
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(answer))
        except ClientError as exc:
            if _error_code(exc) not in WAIT_OVER_ERRORS:
                raise
            if not isinstance(seen, DeploymentEvent):
                return WakeResult(outcome="wait over", reason=_error_code(exc))
            self._put_back(seen)
            return WakeResult(outcome="wait over", reason=f"{_error_code(exc)}: event kept")
        return WakeResult(
            outcome="answered", reason=f"{woken_by}: {seen.name} of {seen.deployment_id}"
        )

    def _claim(self, token: str) -> bool:
        try:
            self._update(
                "REMOVE #token, " + ", ".join(EVENT_FIELDS),
                {":token": {"S": token}},
                condition="#token = :token",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _put_back(self, event: DeploymentEvent) -> None:
        """Keep the event for the next wait, unless a newer one was recorded meanwhile."""
        try:
            self._update(
                "SET " + ", ".join(f"{f} = :{f}" for f in EVENT_FIELDS),
                event.attributes(),
                condition="attribute_not_exists(event_id)",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise

    def _update(
        self,
        expression: str,
        values: dict[str, Any],
        *,
        condition: str | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self._target.table,
            "Key": self._target.key,
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if "#token" in expression or (condition and "#token" in condition):
            kwargs["ExpressionAttributeNames"] = {"#token": "token"}
        if condition:
            kwargs["ConditionExpression"] = condition
        attributes: dict[str, Any] = self._dynamodb.update_item(**kwargs).get("Attributes", {})
        return attributes


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
