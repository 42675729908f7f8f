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
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, TypedDict

from botocore.exceptions import ClientError

from pushgate import settings
from pushgate.environ import required
from pushgate.errors import InvalidRequest

DETAIL_TYPE: Final = "ECS Deployment State Change"
TERMINAL_EVENTS: Final = frozenset({"SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"})
# SendTaskSuccess's answers when the wait is already over (timed out, or the run ended)
WAIT_OVER_ERRORS: Final = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
_EVENT_FIELDS: Final = ("event_id", "event_name", "event_deployment_id", "event_time")


class DynamoDbClient(Protocol):
    def update_item(self, **kwargs: Any) -> dict[str, Any]: ...


class SfnClient(Protocol):
    def send_task_success(self, **kwargs: Any) -> dict[str, Any]: ...


Outcome = Literal["parked", "answered", "recorded", "ignored", "wait over"]


class WakeResult(TypedDict):
    """What wake_rollout returns: what it did, and why when it did nothing."""

    outcome: Outcome
    reason: str


class WakeAnswer(TypedDict):
    """The output of the woken task (SendTaskSuccess): the event that woke it."""

    event: dict[str, str]
    waited_seconds: int


@dataclass(frozen=True)
class WakeTarget:
    """The service whose rollouts are waited for and the table the wait is parked in."""

    table: str
    cluster: str
    service: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> WakeTarget:
        """Read LOCK_TABLE_NAME, CLUSTER_NAME and SERVICE_NAME; all required, none defaulted."""
        names = (settings.LOCK_TABLE_NAME, settings.CLUSTER_NAME, settings.SERVICE_NAME)
        return cls(*required(environ, names))

    @property
    def key(self) -> dict[str, dict[str, str]]:
        return {"lock_id": {"S": f"{self.cluster}/{self.service}#wake"}}

    def owns(self, service_arn: str) -> bool:
        """Whether an ECS service ARN (``arn:aws:ecs:<region>:<account>:service/<cluster>/<name>``)
        names this service."""
        return service_arn.startswith("arn:") and service_arn.endswith(
            f":service/{self.cluster}/{self.service}"
        )


def _string(source: Mapping[str, Any], name: str, what: str) -> str:
    value = source.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{what} has no {name} (a non-empty string)")
    return value


@dataclass(frozen=True)
class ParkRequest:
    """``{"token", "deployments", "execution"}``: a wait for the service's newest deployment
    (``deployments``: describeServices' ``Deployments[0]`` as a list of one, PascalCase; empty
    when the service is gone, and then nothing wakes the wait but its timeout)."""

    token: str
    deployment_id: str | None
    execution: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ParkRequest:
        what = "the wait request"
        deployments = event.get("deployments")
        if not isinstance(deployments, list):
            raise InvalidRequest(f"{what} has no deployments (a list)")
        newest = deployments[0] if deployments else {}
        deployment_id = newest.get("Id") if isinstance(newest, Mapping) else None
        if deployment_id is not None and (not isinstance(deployment_id, str) or not deployment_id):
            raise InvalidRequest(f"{what}: the deployment's Id is not a non-empty string")
        return cls(
            token=_string(event, "token", what),
            deployment_id=deployment_id,
            execution=_string(event, "execution", what),
        )


@dataclass(frozen=True)
class DeploymentEvent:
    """An "ECS Deployment State Change" event, as EventBridge delivers it."""

    event_id: str
    name: str
    deployment_id: str
    service_arn: str
    time: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> DeploymentEvent:
        what = "the ECS event"
        if event.get("source") != "aws.ecs" or event.get("detail-type") != DETAIL_TYPE:
            raise InvalidRequest(f"{what} is not an aws.ecs {DETAIL_TYPE!r} event")
        detail = event.get("detail")
        resources = event.get("resources")
        if not isinstance(detail, Mapping):
            raise InvalidRequest(f"{what} has no detail object")
        if not isinstance(resources, list) or not resources or not isinstance(resources[0], str):
            raise InvalidRequest(f"{what} names no service in resources")
        return cls(
            event_id=_string(event, "id", what),
            name=_string(detail, "eventName", what),
            deployment_id=_string(detail, "deploymentId", what),
            service_arn=resources[0],
            time=_string(event, "time", what),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.event_id,
            "name": self.name,
            "deployment_id": self.deployment_id,
            "time": self.time,
        }

    def attributes(self) -> dict[str, dict[str, str]]:
        values = (self.event_id, self.name, self.deployment_id, self.time)
        return {
            f":{field}": {"S": value} for field, value in zip(_EVENT_FIELDS, values, strict=True)
        }


def _recorded_event(item: Mapping[str, Any]) -> DeploymentEvent | None:
    values = [item.get(field, {}).get("S") for field in _EVENT_FIELDS]
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
        target: WakeTarget,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._sfn = sfn
        self._target = target
        self._clock = clock

    def park(self, request: ParkRequest) -> WakeResult:
        """Park the task token; answer at once when this deployment's event is already here."""
        item = self._update(
            "SET #token = :token, deployment_id = :deployment, execution_arn = :execution, "
            "parked_at = :now",
            {
                ":token": {"S": request.token},
                ":deployment": {"S": request.deployment_id or ""},
                ":execution": {"S": request.execution},
                ":now": {"N": repr(self._clock())},
            },
        )
        event = _recorded_event(item)
        if request.deployment_id is None:
            return WakeResult(outcome="parked", reason="no deployment: only the timeout ends it")
        if event is None or event.deployment_id != request.deployment_id:
            return WakeResult(outcome="parked", reason=f"waiting for {request.deployment_id}")
        return self._answer(request.token, event, item)

    def record(self, event: DeploymentEvent) -> WakeResult:
        """Record a terminal event of this service; answer the wait parked for its deployment."""
        if not self._target.owns(event.service_arn):
            return WakeResult(outcome="ignored", reason=f"{event.service_arn} is another service")
        if event.name not in TERMINAL_EVENTS:
            return WakeResult(outcome="ignored", reason=f"{event.name} does not settle a rollout")
        item = self._update(
            "SET " + ", ".join(f"{f} = :{f}" for f in _EVENT_FIELDS), event.attributes()
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
        return self._answer(token, event, item)

    # --- internals ---------------------------------------------------------------------------
    def _answer(self, token: str, event: DeploymentEvent, item: Mapping[str, Any]) -> WakeResult:
        if not self._claim(token):
            return WakeResult(outcome="ignored", reason="the wait was answered already")
        parked_at = float(item.get("parked_at", {}).get("N", self._clock()))
        answer = WakeAnswer(
            event=event.to_json(),
            waited_seconds=max(0, math.ceil(self._clock() - parked_at)),
        )
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(answer))
        except ClientError as exc:
            if _error_code(exc) not in WAIT_OVER_ERRORS:
                raise
            self._put_back(event)
            return WakeResult(outcome="wait over", reason=f"{_error_code(exc)}: event kept")
        return WakeResult(outcome="answered", reason=f"{event.name} of {event.deployment_id}")

    def _claim(self, token: str) -> bool:
        try:
            self._update(
                "REMOVE #token, " + ", ".join(_EVENT_FIELDS),
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
                "SET " + ", ".join(f"{f} = :{f}" for f in _EVENT_FIELDS),
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
