"""What ``compensate_run`` does to a dead run's service, schema and lock, then the alert (see
:mod:`pushgate.deadrun` for the order and the rules)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from botocore.exceptions import ClientError

from pushgate.deadrun import CompensationReport, CompensationSettings, DeadRun, StepFailed
from pushgate.errors import DowngradeTaskNotRun

SOURCE = "pushgate"


class Compensation:
    """Compensates one dead run with the given boto3 clients."""

    def __init__(self, config: CompensationSettings, clients: dict[str, Any]) -> None:
        self.config = config
        self._ecs = clients["ecs"]
        self._dynamodb = clients["dynamodb"]
        self._events = clients["events"]
        self._lambda = clients["lambda"]

    def run(self, dead: DeadRun) -> CompensationReport:
        report = CompensationReport(dead.execution_arn, "nothing_to_undo")
        try:
            self._undo(dead, report)
        except StepFailed as failed:
            report.outcome, report.error, report.cause = (
                "rollback_failed",
                failed.error,
                failed.cause,
            )
        if self._release(dead):
            report.steps.append("released the lock")
        self._alert(dead, report)
        return report

    # -- the steps --------------------------------------------------------------------------
    def _undo(self, dead: DeadRun, report: CompensationReport) -> None:
        previous = dead.previous
        moved_service = previous is not None and self._serving() != previous[0]
        if moved_service:
            self._update_service(desiredCount=0)
            report.steps.append("scaled the service to zero")
        if dead.started_migrating and dead.runner == "task":
            # where the schema is, read (the revert's rule, on the image's parsed graph)
            report.revert = self._run_migrations("check_revert", dead.from_revision, dead.image)
            self._no_downgrade_task(dead, report.revert)
        elif dead.started_migrating:
            # with the pushed image's scripts when the run had described its push
            report.revert = self._run_migrations("revert", dead.from_revision, dead.image)
            if report.revert.get("applied"):
                report.steps.append(f"reverted the schema to {dead.from_revision or 'base'}")
        if moved_service and previous is not None and self.config.restore_previous_version:
            self._update_service(taskDefinition=previous[0], desiredCount=previous[1])
            report.steps.append(f"restored {previous[0]} x{previous[1]}")
        if report.steps:
            report.outcome = "rolled_back"

    def _serving(self) -> str | None:
        found = self._ecs.describe_services(
            cluster=self.config.cluster, services=[self.config.service]
        )["services"]
        return str(found[0]["taskDefinition"]) if found else None

    def _update_service(self, **changes: Any) -> None:
        try:
            self._ecs.update_service(
                cluster=self.config.cluster, service=self.config.service, **changes
            )
        except ClientError as exc:
            raise StepFailed(_code(exc), str(exc)) from exc

    def _no_downgrade_task(self, dead: DeadRun, read: dict[str, Any]) -> None:
        """A task-runner run, its schema ``read`` by check_revert. Nothing is downgraded here:
        the downgrade is the service's own command in its image, a task this function does not
        run, so a schema to undo (or a task never seen to stop) is StepFailed
        (DowngradeTaskNotRun) saying where the schema is and what to run."""
        unfinished = dead.unfinished_tasks()
        if not read.get("downgrade") and not unfinished:
            return  # at the run's from_revision: nothing to undo
        start, now = dead.from_revision or "base", read.get("to_revision") or "base"
        request = dead.downgrade_request
        overrides = request.get("Overrides", {}).get("ContainerOverrides", [{}])[0]
        command = shlex.join(overrides.get("Command") or []) or (
            f"MigrationDowngradeCommand with {{from_revision}} = {start}"
        )
        run = (
            f"run `{command}` in container {overrides.get('Name', 'the migration container')} "
            f"of {request.get('TaskDefinition') or 'the pushed image'}"
        )
        if unfinished:
            tasks = ", ".join(unfinished)
            todo = (
                f"task {tasks} was never seen to stop and may still be moving it: stop it "
                f"(ecs stop-task --cluster {self.config.cluster}) or let it end; then, if the "
                f"version table no longer reads {start}, {run}"
            )
        else:
            todo = f"{run}, then check that the version table reads {start}"
        where = (
            "the run's from_revision" if now == start else f"not the run's from_revision {start}"
        )
        raise StepFailed(
            DowngradeTaskNotRun.__name__,
            f"the schema is at {now}, {where}. compensate_run runs no ECS task (the downgrade is "
            f"the service's own command, in its image), so nothing was downgraded: {todo}",
        )

    def _run_migrations(
        self, action: str, from_revision: str | None, image: dict[str, str] | None
    ) -> dict[str, Any]:
        """run_migrations' reply to ``action``; StepFailed with its error when it raised."""
        event: dict[str, Any] = {"action": action, "from_revision": from_revision}
        if image is not None:
            event["image"] = image
        reply = self._lambda.invoke(
            FunctionName=self.config.run_migrations_function, Payload=json.dumps(event).encode()
        )
        body = json.loads(reply["Payload"].read() or b"null")
        if reply.get("FunctionError"):
            body = body if isinstance(body, dict) else {}
            raise StepFailed(
                str(body.get("errorType", "Lambda.Unknown")), str(body.get("errorMessage", ""))
            )
        if not isinstance(body, dict):
            raise StepFailed("Lambda.Unknown", "run_migrations returned no result")
        return body

    def _release(self, dead: DeadRun) -> bool:
        """Delete the lock if the dead execution still owns it; whether it did."""
        if dead.lock_id is None:
            return False
        try:
            self._dynamodb.delete_item(
                TableName=self.config.lock_table,
                Key={"lock_id": {"S": dead.lock_id}},
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": dead.execution_arn}},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False  # released already, or another run owns it now
            raise
        return True

    def _alert(self, dead: DeadRun, report: CompensationReport) -> None:
        push, start, rollout = dead.report("push"), dead.report("start"), dead.report("rollout")
        revert = report.revert or {}
        detail_type = {
            "rolled_back": "Deployment Rolled Back",
            "rollback_failed": "Rollback Failed",
        }.get(report.outcome, "Deployment Failed")
        detail = {
            "environment": self.config.environment,
            "repository": push.get("repository"),
            "tag": push.get("tag"),
            "digest": push.get("digest"),
            "from_revision": start.get("from_revision"),
            "to_revision": revert.get("from_revision", start.get("from_revision")),
            "applied": revert.get("applied", []),
            "previous_task_definition": rollout.get("previous_task_definition"),
            "task_definition": rollout.get("task_definition"),
            "execution_arn": dead.execution_arn,
            "execution_status": dead.status,
            "compensated_by": "compensate_run",
            "steps": report.steps,
            "error": report.error if report.error else (dead.error or dead.status),
            "cause": report.cause if report.error else (dead.cause or ""),
        }
        if report.error:
            detail["original_error"], detail["original_cause"] = dead.error, dead.cause
        self._events.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.config.event_bus,
                }
            ]
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", type(exc).__name__))
