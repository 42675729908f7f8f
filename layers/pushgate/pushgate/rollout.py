"""Prepare an ECS rollout: the task-definition revision that pins a pushed image by digest.

The state machine's "Roll out image" state calls this through `functions/prepare_rollout`. It
reads the service, renders its current task definition with the named container's image replaced
by `<account>.dkr.ecr.<region>.amazonaws.com/<repository>@<digest>` (everything else kept), and
registers that as a new revision, unless a revision with exactly that content already exists: the
one the service runs now, or one of the family's recent ACTIVE revisions. Re-running it for the
same digest (a replay, a redrive, a retried invocation) therefore never registers a duplicate.

It never changes the service itself: `ecs:updateService` is a separate state in the ASL.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypedDict

from botocore.exceptions import ClientError

from pushgate import settings
from pushgate.errors import ContainerNotFound, InvalidRequest, ServiceNotFound
from pushgate.push import PushedImage as PushedImage  # its home is pushgate.push

# Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not accept: ECS sets them.
READ_ONLY_FIELDS: Final = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    }
)

# How many of the family's newest ACTIVE revisions are searched for one to reuse.
RECENT_REVISIONS: Final = 10


class EcsClient(Protocol):
    """The part of boto3's ECS client this module uses (boto3 itself is untyped here)."""

    def describe_services(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_task_definition(self, **kwargs: Any) -> dict[str, Any]: ...

    def list_task_definitions(self, **kwargs: Any) -> dict[str, Any]: ...

    def register_task_definition(self, **kwargs: Any) -> dict[str, Any]: ...


class RolloutResult(TypedDict):
    """What prepare_rollout returns (the contract the ASL reads)."""

    previous_task_definition: str
    task_definition: str
    desired_count: int
    image: str
    reused: bool


@dataclass(frozen=True)
class RolloutTarget:
    """The service to roll out and the container whose image changes."""

    cluster: str
    service: str
    container: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> RolloutTarget:
        """Read CLUSTER_NAME, SERVICE_NAME and CONTAINER_NAME; all required, none defaulted."""
        names = (settings.CLUSTER_NAME, settings.SERVICE_NAME, settings.CONTAINER_NAME)
        missing = [name for name in names if not environ.get(name, "").strip()]
        if missing:
            raise InvalidRequest(f"required setting(s) not set: {', '.join(missing)}")
        return cls(
            cluster=environ[settings.CLUSTER_NAME].strip(),
            service=environ[settings.SERVICE_NAME].strip(),
            container=environ[settings.CONTAINER_NAME].strip(),
        )


def render_task_definition(
    current: Mapping[str, Any], container: str, image: str
) -> dict[str, Any]:
    """RegisterTaskDefinition input from a described task definition, with one image replaced.

    `current` is the `taskDefinition` object of DescribeTaskDefinition. The read-only fields ECS
    sets are dropped, the container named `container` gets `image`, and everything else is kept
    as it is (a deep copy: `current` is not modified). ContainerNotFound if no such container.
    """
    rendered = {
        key: copy.deepcopy(value) for key, value in current.items() if key not in READ_ONLY_FIELDS
    }
    containers = rendered.get("containerDefinitions") or []
    matching = [c for c in containers if c.get("name") == container]
    if not matching:
        names = ", ".join(str(c.get("name")) for c in containers) or "none"
        raise ContainerNotFound(
            f"task definition {current.get('taskDefinitionArn', '?')} has no container "
            f"{container!r} (containers: {names})"
        )
    for definition in matching:
        definition["image"] = image
    return rendered


def same_content(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """Whether two task definitions register the same thing (read-only fields ignored)."""

    def strip(td: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in td.items() if key not in READ_ONLY_FIELDS}

    return strip(left) == strip(right)


class Rollout:
    """Render and register (or reuse) the revision that pins an image in the target service."""

    def __init__(self, ecs: EcsClient, target: RolloutTarget, register_fields: frozenset[str]):
        self._ecs = ecs
        self._target = target
        # RegisterTaskDefinition's input members, so a field added to DescribeTaskDefinition's
        # output by a newer API version cannot make the registration fail.
        self._register_fields = register_fields

    def describe_service(self) -> dict[str, Any]:
        """The ACTIVE service, or ServiceNotFound."""
        try:
            response = self._ecs.describe_services(
                cluster=self._target.cluster, services=[self._target.service]
            )
        except ClientError as exc:
            if _error_code(exc) in {"ClusterNotFoundException", "ServiceNotFoundException"}:
                raise ServiceNotFound(
                    f"{self._target.cluster}/{self._target.service}: {_error_code(exc)}"
                ) from exc
            raise
        services = [s for s in response.get("services", []) if s.get("status") == "ACTIVE"]
        if not services:
            reasons = [f.get("reason", "?") for f in response.get("failures", [])]
            raise ServiceNotFound(
                f"no ACTIVE service {self._target.service!r} in cluster {self._target.cluster!r}"
                f" ({', '.join(reasons) or 'not ACTIVE'})"
            )
        service: dict[str, Any] = services[0]
        return service

    def prepare(self, image: PushedImage) -> RolloutResult:
        service = self.describe_service()
        current_arn: str = service["taskDefinition"]
        desired_count = int(service.get("desiredCount", 0))
        described = self._ecs.describe_task_definition(taskDefinition=current_arn, include=["TAGS"])
        current: dict[str, Any] = described["taskDefinition"]
        tags: list[dict[str, str]] = described.get("tags") or []
        wanted = render_task_definition(current, self._target.container, image.uri)

        reusable = self._find_reusable(current, wanted)
        if reusable is not None:
            arn, reused = reusable, True
        else:
            arn, reused = self._register(wanted, tags), False
        return RolloutResult(
            previous_task_definition=current_arn,
            task_definition=arn,
            desired_count=desired_count,
            image=image.uri,
            reused=reused,
        )

    def _find_reusable(self, current: Mapping[str, Any], wanted: Mapping[str, Any]) -> str | None:
        """The ARN of an ACTIVE revision with exactly the wanted content, if there is one."""
        if same_content(current, wanted):
            return str(current["taskDefinitionArn"])
        family = str(current["family"])
        listed = self._ecs.list_task_definitions(
            familyPrefix=family, status="ACTIVE", sort="DESC", maxResults=RECENT_REVISIONS
        )
        for arn in listed.get("taskDefinitionArns", []):
            if arn == current["taskDefinitionArn"]:
                continue
            candidate = self._ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            if candidate.get("family") == family and same_content(candidate, wanted):
                return str(arn)
        return None

    def _register(self, wanted: Mapping[str, Any], tags: list[dict[str, str]]) -> str:
        request = {key: value for key, value in wanted.items() if key in self._register_fields}
        if tags and "tags" in self._register_fields:
            request["tags"] = tags
        response = self._ecs.register_task_definition(**request)
        return str(response["taskDefinition"]["taskDefinitionArn"])


def register_fields_of(ecs: Any) -> frozenset[str]:
    """RegisterTaskDefinition's input member names, from a boto3 ECS client's service model."""
    shape = ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape
    return frozenset(shape.members)


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            code = error.get("Code")
            return str(code) if code is not None else None
    return None
