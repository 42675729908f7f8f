"""The task runner (``MigrationRunner: task``): the migration runs as a one-off ECS task of the
pushed image, as the seed's ``startup.sh`` did, and is watched from the outside.

:func:`task_requests` builds the two ``ecs:runTask`` requests of a run, the upgrade and the
downgrade, before anything runs: the task-definition revision pinned to the digest, the service's
own launch type and network configuration, and a container override of the migration container
(the command, split as a shell would, ``PGOPTIONS`` with the run's lock and statement timeouts,
``PGAPPNAME=pushgate-migration``). The downgrade's command is ``MigrationDowngradeCommand`` with
``{from_revision}`` (``base`` when there was none) filled in: never a relative step.

The watch of the started task is :mod:`pushgate.task_watch`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pushgate import settings
from pushgate.errors import InvalidRequest

APP_NAME: Final = "pushgate-migration"  # PGAPPNAME: the task's sessions in pg_stat_activity
FROM_REVISION: Final = "{from_revision}"  # the placeholder of MigrationDowngradeCommand
STARTED_BY: Final = "pushgate"
MAX_TIMEOUT_SECONDS: Final = 7200

Phase = Literal["upgrade", "downgrade"]


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise InvalidRequest(f"{name} is required (the template sets it)")
    return value


def _positive_int(environ: Mapping[str, str], name: str, maximum: int | None = None) -> int:
    raw = _required(environ, name)
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise InvalidRequest(f"{name} must be a whole number >= 1{bound}, got {raw!r}")
    return int(raw)


def split_command(name: str, command: str) -> list[str]:
    """``command`` split as a shell would (quotes kept together); InvalidRequest when it cannot
    be (an unclosed quote) or is empty."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise InvalidRequest(f"{name} {command!r} cannot be split as a shell would: {exc}") from (
            None
        )
    if not words:
        raise InvalidRequest(f"{name} is empty")
    return words


@dataclass(frozen=True, kw_only=True)
class TaskRunnerSettings:
    """The task runner's settings, validated at cold start."""

    cluster: str
    container: str
    upgrade_command: list[str]
    downgrade_command: list[str]
    timeout_seconds: int
    lock_timeout_ms: int
    statement_timeout_ms: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TaskRunnerSettings:
        return cls(
            cluster=_required(environ, settings.CLUSTER_NAME),
            container=_required(environ, settings.CONTAINER_NAME),
            upgrade_command=split_command(
                settings.MIGRATION_COMMAND, _required(environ, settings.MIGRATION_COMMAND)
            ),
            downgrade_command=split_command(
                settings.MIGRATION_DOWNGRADE_COMMAND,
                _required(environ, settings.MIGRATION_DOWNGRADE_COMMAND),
            ),
            timeout_seconds=_positive_int(
                environ, settings.MIGRATION_TASK_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS
            ),
            lock_timeout_ms=_positive_int(environ, settings.MIGRATION_LOCK_TIMEOUT_MS),
            statement_timeout_ms=_positive_int(environ, settings.MIGRATION_STATEMENT_TIMEOUT_MS),
        )

    @property
    def pgoptions(self) -> str:
        return (
            f"-c lock_timeout={self.lock_timeout_ms} "
            f"-c statement_timeout={self.statement_timeout_ms}"
        )

    def command(self, phase: Phase, from_revision: str | None) -> list[str]:
        """The upgrade's command, or the downgrade's with ``{from_revision}`` filled in (base:
        the database had no revision), word by word, so a revision id is never re-split."""
        if phase == "upgrade":
            return list(self.upgrade_command)
        target = from_revision or "base"
        return [word.replace(FROM_REVISION, target) for word in self.downgrade_command]


def task_requests(runner: TaskRunnerSettings, event: Any) -> dict[str, dict[str, Any]]:
    """The ``ecs:runTask`` parameters (PascalCase, as the SDK integration takes them) of the
    upgrade and the downgrade, from ``{"task_definition", "from_revision", "service"}`` (the
    service as describeServices gave it before the run). InvalidRequest for what ECS would
    refuse or pushgate cannot copy (a service on a capacity provider strategy, or without an
    awsvpc network configuration)."""
    if not isinstance(event, Mapping):
        raise InvalidRequest("the event must be a JSON object")
    task_definition = event.get("task_definition")
    if not isinstance(task_definition, str) or not task_definition:
        raise InvalidRequest("task_definition must be the pinned revision's ARN")
    from_revision = event.get("from_revision")
    if from_revision is not None and (not isinstance(from_revision, str) or not from_revision):
        raise InvalidRequest(f"from_revision must be a revision id or null, got {from_revision!r}")
    service = event.get("service")
    if not isinstance(service, Mapping):
        raise InvalidRequest("service must be the service as describeServices returned it")
    if service.get("CapacityProviderStrategy"):
        raise InvalidRequest(
            "the service runs on a capacity provider strategy: the task runner copies a launch "
            "type only (FARGATE or EC2)"
        )
    launch_type = service.get("LaunchType")
    network = service.get("NetworkConfiguration")
    if not isinstance(launch_type, str) or not isinstance(network, Mapping):
        raise InvalidRequest(
            "the service has no launch type or no awsvpc network configuration to run the "
            "migration task with"
        )
    requests: dict[str, dict[str, Any]] = {}
    phases: tuple[Phase, ...] = ("upgrade", "downgrade")
    for phase in phases:
        requests[phase] = {
            "TaskDefinition": task_definition,
            "LaunchType": launch_type,
            "NetworkConfiguration": dict(network),
            "StartedBy": STARTED_BY,
            "Overrides": {
                "ContainerOverrides": [
                    {
                        "Name": runner.container,
                        "Command": runner.command(phase, from_revision),
                        "Environment": [
                            {"Name": "PGOPTIONS", "Value": runner.pgoptions},
                            {"Name": "PGAPPNAME", "Value": APP_NAME},
                        ],
                    }
                ]
            },
        }
    return requests
