"""Compensation of a run that died from outside it (the ``compensate_run`` Lambda's work).

In AWS ``States.ALL`` does not catch ``States.Runtime`` or ``States.DataLimitExceeded``; they,
a timeout and an abort end the execution without its own compensation. The status-change rule
(FAILED, TIMED_OUT, ABORTED) then invokes ``compensate_run``, which:

1. skips a run that ended through one of the definition's own Fail states
   (:data:`OWN_ENDINGS`: it compensated and alerted itself);
2. reads what the dead run had recorded: the execution data of the last state it completed
   (every state writes under its own key): the starting revision (``start.from_revision``),
   the version serving before (``previous``), the revision it rolled out (``rollout``), the
   lock (``lock.id``);
3. compensates as the matrix says, each step idempotent (a second invocation repeats nothing
   harmful): the service to zero when it is not on the previous task definition, the schema
   reverted to the starting revision (run_migrations' ``revert``: only if the database is
   between it and head, ``SchemaDrift`` otherwise; for a task-runner run, whose downgrade is
   the service's own command in its image, only read with ``check_revert``: a schema to undo
   is ``DowngradeTaskNotRun``, its cause where the schema is and what to run), the previous
   version restored when
   ``RESTORE_PREVIOUS_VERSION``; a failed step stops the others (nothing guessed);
4. releases the lock if that execution still owns it, and alerts: "Deployment Rolled Back",
   "Rollback Failed", or "Deployment Failed" when the run had touched nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pushgate import settings
from pushgate.errors import InvalidRequest

DEAD_STATUSES: Final = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
# the error names of the definition's own Fail states: the run compensated itself
OWN_ENDINGS: Final = frozenset(
    {"DeploymentFailed", "DeploymentRolledBack", "RollbackFailed", "DeploymentRejected"}
)


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise InvalidRequest(f"{name} is not set")
    return value


@dataclass(frozen=True, kw_only=True)
class CompensationSettings:
    state_machine_arn: str
    cluster: str
    service: str
    lock_table: str
    event_bus: str
    environment: str
    run_migrations_function: str
    restore_previous_version: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CompensationSettings:
        restore = _required(environ, settings.RESTORE_PREVIOUS_VERSION).lower()
        if restore not in ("true", "false"):
            raise InvalidRequest(
                f"{settings.RESTORE_PREVIOUS_VERSION} must be true or false, got {restore!r}"
            )
        return cls(
            state_machine_arn=_required(environ, settings.DEPLOY_STATE_MACHINE_ARN),
            cluster=_required(environ, settings.CLUSTER_NAME),
            service=_required(environ, settings.SERVICE_NAME),
            lock_table=_required(environ, settings.LOCK_TABLE_NAME),
            event_bus=_required(environ, settings.EVENT_BUS_NAME),
            environment=_required(environ, settings.ENVIRONMENT_NAME),
            run_migrations_function=_required(environ, settings.RUN_MIGRATIONS_FUNCTION),
            restore_previous_version=restore == "true",
        )


@dataclass(frozen=True)
class DeadRun:
    """A dead execution and the execution data it had recorded last."""

    execution_arn: str
    status: str
    error: str | None
    cause: str | None
    data: Mapping[str, Any]

    def _section(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        return value if isinstance(value, Mapping) else {}

    @property
    def started_migrating(self) -> bool:
        """Whether the run had fixed its starting revision (so it may have migrated)."""
        return "from_revision" in self._section("start")

    @property
    def from_revision(self) -> str | None:
        value = self._section("start").get("from_revision")
        return value if isinstance(value, str) else None

    @property
    def previous(self) -> tuple[str, int] | None:
        """The task definition and desired count serving before the run, if it read them."""
        services = self._section("previous").get("services")
        if not isinstance(services, list) or not services or not isinstance(services[0], Mapping):
            return None
        task_definition, count = services[0].get("TaskDefinition"), services[0].get("DesiredCount")
        if isinstance(task_definition, str) and isinstance(count, int):
            return task_definition, count
        return None

    @property
    def image(self) -> dict[str, str] | None:
        """The pushed image as run_migrations' event names it (its scripts hold the downgrade
        code of what the run applied), if the run had described its push."""
        push = self._section("push")
        fields = [push.get(key) for key in ("account", "region", "repository", "digest")]
        if not all(isinstance(value, str) and value for value in fields):
            return None
        account, region, repository, digest = (str(value) for value in fields)
        registry = f"{account}.dkr.ecr.{region}.amazonaws.com"
        return {"registry": registry, "repository": repository, "digest": digest}

    @property
    def runner(self) -> str:
        """The run's MigrationRunner (``lambda`` or ``task``), as its settings recorded it."""
        return "task" if self._section("settings").get("migration_runner") == "task" else "lambda"

    @property
    def downgrade_request(self) -> Mapping[str, Any]:
        """The task runner's prepared downgrade runTask request (empty before it was made)."""
        requests = self._section("task").get("requests")
        found = requests.get("downgrade") if isinstance(requests, Mapping) else None
        return found if isinstance(found, Mapping) else {}

    def unfinished_tasks(self) -> list[str]:
        """The ARNs of the run's migration or downgrade tasks it started and never saw stop."""
        task = self._section("task")
        arns = []
        for started, outcome in (
            ("started", "outcome"),
            ("downgrade_started", "downgrade_outcome"),
        ):
            value = task.get(started)
            tasks = value.get("tasks") if isinstance(value, Mapping) else None
            if isinstance(tasks, list) and task.get(outcome) is None:
                arns += [_task_arn(t) for t in tasks if _task_arn(t)]
        return arns

    @property
    def lock_id(self) -> str | None:
        value = self._section("lock").get("id")
        return value if isinstance(value, str) else None

    def report(self, key: str) -> Any:
        return self._section(key)


def _task_arn(task: Any) -> str:
    """A runTask reply's task ARN (the SDK integration's TaskArn, the API's taskArn), or ""."""
    if not isinstance(task, Mapping):
        return ""
    return str(task.get("TaskArn") or task.get("taskArn") or "")


def parse_status_change(event: Any, expected_machine: str) -> tuple[str, str]:
    """``(execution_arn, status)`` of a Step Functions Execution Status Change event of the
    deploy state machine; InvalidRequest otherwise."""
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if not isinstance(detail, Mapping) or event.get("source") != "aws.states":
        raise InvalidRequest("not a Step Functions Execution Status Change event")
    arn, status = detail.get("executionArn"), detail.get("status")
    if detail.get("stateMachineArn") != expected_machine or not isinstance(arn, str):
        raise InvalidRequest(f"not an execution of {expected_machine}")
    if status not in DEAD_STATUSES:
        raise InvalidRequest(f"status {status!r} is not one of {', '.join(sorted(DEAD_STATUSES))}")
    return arn, str(status)


def read_dead_run(sfn: Any, execution_arn: str) -> DeadRun | None:
    """The dead run, or None when it is not dead or ended through its own compensation."""
    described = sfn.describe_execution(executionArn=execution_arn)
    status, error = described["status"], described.get("error")
    if status not in DEAD_STATUSES or error in OWN_ENDINGS:
        return None
    return DeadRun(
        execution_arn, status, error, described.get("cause"), _last_data(sfn, execution_arn)
    )


def _last_data(sfn: Any, execution_arn: str) -> Mapping[str, Any]:
    """The output of the last state the execution completed (its whole execution data), the
    newest one that is whole JSON (a truncated output is skipped). The whole history is read
    (at most 25,000 events): this runs once per dead run."""
    outputs: list[tuple[int, str]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        for event in page["events"]:
            exited = event.get("stateExitedEventDetails") or {}
            if exited.get("output") and not exited.get("outputDetails", {}).get("truncated"):
                outputs.append((int(event["id"]), str(exited["output"])))
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    for _, output in sorted(outputs, reverse=True):
        try:
            data = json.loads(output)
        except ValueError:
            continue
        if isinstance(data, Mapping):
            return data
    return {}


@dataclass
class CompensationReport:
    execution_arn: str
    outcome: str  # "rolled_back" | "rollback_failed" | "nothing_to_undo" | "compensated_itself"
    steps: list[str] = field(default_factory=list)
    revert: Mapping[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "execution_arn": self.execution_arn,
            "outcome": self.outcome,
            "steps": self.steps,
            "revert": self.revert,
            "error": self.error,
            "cause": self.cause,
        }


class StepFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause
