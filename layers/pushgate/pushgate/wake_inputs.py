"""The health wait's inputs: the service waited for, the wait request, ECS's event.

`pushgate.wake` pairs them (the rendezvous); here they are read and refused with
`InvalidRequest` saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pushgate import settings
from pushgate.environ import required
from pushgate.errors import InvalidRequest

DETAIL_TYPE: Final = "ECS Deployment State Change"
EVENT_FIELDS: Final = ("event_id", "event_name", "event_deployment_id", "event_time")


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


def _seconds(source: Mapping[str, Any], name: str, what: str, *, least: int = 0) -> int:
    value = source.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidRequest(f"{what} has no {name} (a whole number >= {least})")
    return value


@dataclass(frozen=True)
class ParkRequest:
    """``{"token", "deployments", "execution", "task_definition", "polls", "poll_seconds",
    "deadline_seconds", "elapsed"}``: a wait for the service's newest deployment
    (``deployments``: the service's ``Deployments[0]`` as a list of one, PascalCase; empty
    when the service is gone, and then nothing wakes the wait but its deadline)."""

    token: str
    deployment_id: str | None
    execution: str
    task_definition: str
    polls: int  # safety polls that ran out before this attempt ($$.State.RetryCount)
    poll_seconds: int
    deadline_seconds: int
    elapsed: int  # the health wait's seconds counted before this wait

    @property
    def counted(self) -> int:
        """The health wait's seconds when this attempt parks."""
        return self.elapsed + self.polls * self.poll_seconds

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
            task_definition=_string(event, "task_definition", what),
            polls=_seconds(event, "polls", what),
            poll_seconds=_seconds(event, "poll_seconds", what, least=1),
            deadline_seconds=_seconds(event, "deadline_seconds", what),
            elapsed=_seconds(event, "elapsed", what),
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
            f":{field}": {"S": value} for field, value in zip(EVENT_FIELDS, values, strict=True)
        }
