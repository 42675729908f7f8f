"""Make moto's ECS service roll out the way ECS does.

moto's ECS backend never progresses a deployment: after `UpdateService` the service keeps one
deployment, IN_PROGRESS, with the old task definition, forever. ECS itself starts a new PRIMARY
deployment for the new task definition, keeps the old one ACTIVE while tasks are replaced, and
ends the new one COMPLETED (running == desired) or FAILED (the deployment circuit breaker after
enough tasks failed to start).

`EcsRolloutSimulator` patches the backend so that every `UpdateService` that changes the task
definition opens a new PRIMARY deployment, and every `DescribeServices` (the state machine's
health poll) moves it one step on: a healthy image gains running tasks until it is COMPLETED,
a failing image gains failed tasks until it is FAILED, a stuck one stays IN_PROGRESS. Time also
passes while the state machine waits for ECS to say so (:meth:`EcsRolloutSimulator.tick`, one
step). The task definitions the service had when the simulator was installed are the known-good
ones: restoring them always rolls out healthy.

When a deployment ends COMPLETED or FAILED the simulator sends what ECS sends to EventBridge, an
"ECS Deployment State Change" event (``SERVICE_DEPLOYMENT_COMPLETED`` / ``_FAILED``, the service
ARN in ``resources``, the deployment id in ``detail``; shape from
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html),
to every callable in ``event_sinks``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch
from uuid import uuid4

from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends

from pushgate_cli.scenarios import Rollout


@dataclass
class EcsRolloutSimulator:
    """Patch moto's ECS backend so rollouts progress. Use as `with sim.installed(): ...`."""

    new_images: Rollout = Rollout.HEALTHY
    polls_to_complete: int = 2  # steps (looks at the service, waits for ECS) to COMPLETED
    failed_tasks_to_fail: int = 3
    known_good: set[str] = field(default_factory=set)
    updates: list[dict[str, Any]] = field(default_factory=list)
    event_sinks: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # every event ECS sent
    _ticks: dict[str, int] = field(default_factory=dict)  # deployment id -> steps taken

    @contextmanager
    def installed(self) -> Iterator[EcsRolloutSimulator]:
        original_update = EC2ContainerServiceBackend.update_service
        original_describe = EC2ContainerServiceBackend.describe_services
        simulator = self

        def update_service(
            backend: EC2ContainerServiceBackend, service_properties: dict[str, Any]
        ) -> Any:
            before = _service_of(backend, service_properties)
            previous_td = before.task_definition if before is not None else None
            previous_running = before.running_count if before is not None else 0
            service = original_update(backend, dict(service_properties))
            simulator._after_update(service, previous_td, previous_running)
            return service

        def describe_services(
            backend: EC2ContainerServiceBackend, cluster_str: str, names: list[str]
        ) -> Any:
            services, failures = original_describe(backend, cluster_str, names)
            for service in services:
                simulator._advance(service)
            return services, failures

        with (
            patch.object(EC2ContainerServiceBackend, "update_service", update_service),
            patch.object(EC2ContainerServiceBackend, "describe_services", describe_services),
        ):
            yield self

    def tick(self, account_id: str, region: str) -> None:
        """Time passes (the state machine waits for ECS's word): every rollout moves a step."""
        for service in list(ecs_backends[account_id][region].services.values()):
            self._advance(service)

    def remember_known_good(self, account_id: str, region: str) -> None:
        """Every task definition the services use now rolls out healthy later (a restore)."""
        for service in ecs_backends[account_id][region].services.values():
            if service.task_definition:
                self.known_good.add(service.task_definition)
            for deployment in service.deployments:
                deployment.update(rolloutState="COMPLETED", runningCount=service.desired_count)
                deployment.update(pendingCount=0)
            service.running_count = service.desired_count
            service.pending_count = 0

    # --- the simulation ----------------------------------------------------------------------
    def _after_update(self, service: Any, previous_td: str | None, previous_running: int) -> None:
        self.updates.append(
            {"task_definition": service.task_definition, "desired_count": service.desired_count}
        )
        if service.task_definition != previous_td:
            for deployment in service.deployments:
                deployment["status"] = "ACTIVE"
            service.deployments.insert(0, _deployment(service))
            service.running_count = previous_running  # the old tasks serve until replaced
            service.pending_count = service.desired_count
        elif service.deployments:
            primary = service.deployments[0]
            primary["desiredCount"] = service.desired_count
            primary["updatedAt"] = _now()
            if primary["rolloutState"] != "IN_PROGRESS" or service.desired_count == 0:
                primary.update(
                    runningCount=service.desired_count, pendingCount=0, rolloutState="COMPLETED"
                )
                service.deployments[1:] = []
            service.running_count = primary["runningCount"]
            service.pending_count = service.desired_count - primary["runningCount"]

    def _advance(self, service: Any) -> None:
        if not service.deployments:
            return
        primary = service.deployments[0]
        if primary["rolloutState"] != "IN_PROGRESS":
            return
        behaviour = (
            Rollout.HEALTHY if primary["taskDefinition"] in self.known_good else self.new_images
        )
        desired = int(primary["desiredCount"])
        if behaviour is Rollout.HEALTHY:
            ticks = self._ticks[primary["id"]] = self._ticks.get(primary["id"], 0) + 1
            polls = max(1, self.polls_to_complete)
            primary["runningCount"] = desired if ticks >= polls else desired * ticks // polls
            primary["pendingCount"] = desired - primary["runningCount"]
            if primary["runningCount"] >= desired:
                primary["rolloutState"] = "COMPLETED"
                primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
                service.deployments[1:] = []
                service.running_count = desired
                service.pending_count = 0
                self._send(service, primary, "INFO", "SERVICE_DEPLOYMENT_COMPLETED")
        elif behaviour is Rollout.FAILING:
            primary["failedTasks"] = int(primary["failedTasks"]) + 1
            if primary["failedTasks"] >= self.failed_tasks_to_fail:
                primary["rolloutState"] = "FAILED"
                primary["rolloutStateReason"] = (
                    f"ECS deployment circuit breaker: {primary['failedTasks']} tasks failed "
                    "to start."
                )
                self._send(service, primary, "ERROR", "SERVICE_DEPLOYMENT_FAILED")
        primary["updatedAt"] = _now()

    def _send(self, service: Any, deployment: dict[str, Any], kind: str, name: str) -> None:
        event = deployment_event(service.arn, str(deployment["id"]), kind, name)
        event["detail"]["reason"] = str(deployment["rolloutStateReason"])
        self.events.append(event)
        for sink in list(self.event_sinks):
            sink(event)


def deployment_event(service_arn: str, deployment_id: str, kind: str, name: str) -> dict[str, Any]:
    """An "ECS Deployment State Change" event as EventBridge delivers it."""
    _, _, _, region, account, _ = service_arn.split(":", 5)
    now = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid4()),
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": account,
        "time": now,
        "region": region,
        "resources": [service_arn],
        "detail": {
            "eventType": kind,
            "eventName": name,
            "deploymentId": deployment_id,
            "updatedAt": now,
            "reason": f"ECS deployment {deployment_id} {name.rsplit('_', 1)[-1].lower()}.",
        },
    }


def _service_of(backend: EC2ContainerServiceBackend, props: dict[str, Any]) -> Any:
    cluster = str(props.get("cluster", "default")).split("/")[-1]
    name = str(props.get("service", "")).split("/")[-1]
    return backend.services.get(f"{cluster}:{name}")


def _deployment(service: Any) -> dict[str, Any]:
    deployment_id = f"ecs-svc/{uuid4().int % 10**19}"
    now = _now()
    return {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": service.task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": service.desired_count,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": service.launch_type,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
    }


def _now() -> datetime:
    return datetime.now(UTC)
