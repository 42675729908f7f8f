"""Watch the task runner's migration task (``MigrationRunner: task``; see
:mod:`pushgate.migration_task`): one look per call.

An essential sidecar keeps a task RUNNING after the migration container exits, so the watcher
never waits for STOPPED: once the migration container has an exit code it stops the task itself
(``ecs:stopTask``). It raises :class:`MigrationTaskRunning` while the container runs (the state
machine retries), and stops the task and raises :class:`MigrationTaskTimeout` once
``MigrationTaskTimeoutSeconds`` have passed (the state's retry count times its interval, or the
task's age, whichever is more). A task ECS never started is :class:`MigrationTaskNotStarted`
(nothing ran); a non-zero exit or a task stopped under the container, :class:`MigrationTaskFailed`.
Each failure's message carries the exit code, ECS's stop code and reason and the last lines of
the container's log (CloudWatch Logs, from the task definition's awslogs options), which the
Deployment Failed event quotes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypedDict

from botocore.exceptions import BotoCoreError, ClientError

from pushgate.errors import (
    InvalidRequest,
    MigrationTaskFailed,
    MigrationTaskNotStarted,
    MigrationTaskRunning,
    MigrationTaskTimeout,
)
from pushgate.migration_task import TaskRunnerSettings

LOG_TAIL_LINES: Final = 20  # the last lines of the container's log quoted in a failure
LOG_LINE_CHARS: Final = 300  # each cut to this many characters


class EcsTasks(Protocol):
    """The part of an ECS client (botocore's, pushgate.aws) the watcher uses."""

    def describe_tasks(self, **kwargs: Any) -> dict[str, Any]: ...

    def stop_task(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_task_definition(self, **kwargs: Any) -> dict[str, Any]: ...


class LogEvents(Protocol):
    """The part of a CloudWatch Logs client (botocore's) the watcher uses."""

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]: ...


class TaskOutcome(TypedDict):
    """What a finished migration task did (the contract the ASL reads)."""

    task_arn: str
    exit_code: int
    stop_code: str | None
    stopped_reason: str | None
    log_tail: list[str]


@dataclass(frozen=True)
class WatchRequest:
    """A watch call: the runTask answer and how long the watch has been going."""

    tasks: list[Mapping[str, Any]]
    failures: list[Mapping[str, Any]]
    waited_seconds: float

    @classmethod
    def from_event(cls, event: Any) -> WatchRequest:
        """``{"started": {"tasks": [...], "failures": [...]}, "polls": int, "poll_seconds":
        number}`` (polls: the state's retry count)."""
        if not isinstance(event, Mapping) or not isinstance(event.get("started"), Mapping):
            raise InvalidRequest("the event needs 'started', runTask's {tasks, failures}")
        started = event["started"]
        tasks = started.get("tasks") or []
        failures = started.get("failures") or []
        polls, seconds = event.get("polls", 0), event.get("poll_seconds", 0)
        if not isinstance(tasks, list) or not isinstance(failures, list):
            raise InvalidRequest("started.tasks and started.failures must be lists")
        for name, value in (("polls", polls), ("poll_seconds", seconds)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidRequest(f"{name} must be a number >= 0, got {value!r}")
        return cls(tasks, failures, float(polls) * float(seconds))


class TaskWatcher:
    """One look at the migration task per call (see the module's docstring)."""

    def __init__(self, runner: TaskRunnerSettings, ecs: EcsTasks, logs: LogEvents) -> None:
        self.runner = runner
        self.ecs = ecs
        self.logs = logs

    def watch(self, request: WatchRequest, now: datetime | None = None) -> TaskOutcome:
        if not request.tasks:
            reasons = "; ".join(
                f"{f.get('Reason') or f.get('reason')}: {f.get('Detail') or f.get('detail') or ''}"
                for f in request.failures
            )
            raise MigrationTaskNotStarted(
                f"ECS did not start the migration task: {reasons or 'no task and no failure'}"
                "; nothing was migrated"
            )
        task_arn = str(request.tasks[0].get("TaskArn") or request.tasks[0].get("taskArn"))
        task = self._describe(task_arn)
        container: Mapping[str, Any] = next(
            (c for c in task.get("containers", []) if c.get("name") == self.runner.container), {}
        )
        exit_code = container.get("exitCode")
        if isinstance(exit_code, int):
            if task.get("lastStatus") != "STOPPED":  # an essential sidecar keeps it running
                task = self._stop(
                    task_arn, f"pushgate: the migration container exited with {exit_code}"
                )
            return self._finished(task_arn, task, exit_code)
        if task.get("lastStatus") == "STOPPED":
            self._raise_stopped(task_arn, task, container)
        waited = max(request.waited_seconds, _age(task, now or datetime.now(UTC)))
        if waited >= self.runner.timeout_seconds:
            stopped = self._stop(
                task_arn,
                f"pushgate: MigrationTaskTimeoutSeconds ({self.runner.timeout_seconds}) passed",
            )
            raise MigrationTaskTimeout(
                f"the migration task {_short(task_arn)} was still running after "
                f"{self.runner.timeout_seconds} s and was stopped"
                f"{self._details(stopped, self.log_tail(stopped))}"
            )
        raise MigrationTaskRunning(
            f"the migration task {_short(task_arn)} is {task.get('lastStatus')} "
            f"({waited:.0f} of {self.runner.timeout_seconds} s)"
        )

    # --- ECS and the log ---------------------------------------------------------------------
    def _describe(self, task_arn: str) -> Mapping[str, Any]:
        found = self.ecs.describe_tasks(cluster=self.runner.cluster, tasks=[task_arn])
        tasks = found.get("tasks") or []
        if not tasks:
            raise MigrationTaskFailed(
                f"ECS does not know the migration task {_short(task_arn)} any more "
                f"({found.get('failures')}); where the schema is, the compensation reads"
            )
        return dict(tasks[0])

    def _stop(self, task_arn: str, reason: str) -> Mapping[str, Any]:
        stopped = self.ecs.stop_task(cluster=self.runner.cluster, task=task_arn, reason=reason)
        return dict(stopped.get("task") or {})

    def _finished(self, task_arn: str, task: Mapping[str, Any], exit_code: int) -> TaskOutcome:
        tail = self.log_tail(task)
        if exit_code != 0:
            raise MigrationTaskFailed(
                f"the migration task {_short(task_arn)} exited with {exit_code}"
                f"{self._details(task, tail)}"
            )
        return TaskOutcome(
            task_arn=task_arn,
            exit_code=exit_code,
            stop_code=task.get("stopCode"),
            stopped_reason=task.get("stoppedReason"),
            log_tail=tail,
        )

    def _raise_stopped(
        self, task_arn: str, task: Mapping[str, Any], container: Mapping[str, Any]
    ) -> None:
        never_started = task.get("stopCode") == "TaskFailedToStart" or not task.get("startedAt")
        reason = container.get("reason")
        if never_started:
            raise MigrationTaskNotStarted(
                f"the migration task {_short(task_arn)} never started"
                f"{self._details(task, None)}{f'; container: {reason}' if reason else ''}"
                "; nothing was migrated"
            )
        raise MigrationTaskFailed(
            f"the migration task {_short(task_arn)} stopped before its container exited"
            f"{self._details(task, self.log_tail(task))}"
        )

    def _details(self, task: Mapping[str, Any], tail: list[str] | None) -> str:
        parts = [
            f"stop code {task.get('stopCode') or 'none'}",
            f"reason {task.get('stoppedReason') or 'none'}",
        ]
        if tail is not None:
            parts.append("last log lines: " + (" | ".join(tail) if tail else "(none)"))
        return " (" + "; ".join(parts) + ")"

    def log_tail(self, task: Mapping[str, Any]) -> list[str]:
        """The last lines of the migration container's awslogs stream (empty when the task
        definition has no awslogs configuration, or the log cannot be read: noted as a line)."""
        try:
            definition = self.ecs.describe_task_definition(
                taskDefinition=task.get("taskDefinitionArn")
            )["taskDefinition"]
            container: Mapping[str, Any] = next(
                c
                for c in definition.get("containerDefinitions", [])
                if c.get("name") == self.runner.container
            )
            config = container.get("logConfiguration") or {}
            options = config.get("options") or {}
            if config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
                return []
            prefix = options.get("awslogs-stream-prefix")
            task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
            if not prefix:
                return ["(no awslogs-stream-prefix: the stream cannot be named)"]
            events = self.logs.get_log_events(
                logGroupName=options["awslogs-group"],
                logStreamName=f"{prefix}/{self.runner.container}/{task_id}",
                limit=LOG_TAIL_LINES,
                startFromHead=False,
            ).get("events", [])
        except StopIteration:
            return []
        except (ClientError, BotoCoreError) as exc:
            return [f"(the log could not be read: {type(exc).__name__})"]
        return [str(e.get("message", "")).rstrip()[:LOG_LINE_CHARS] for e in events][
            -LOG_TAIL_LINES:
        ]


def _age(task: Mapping[str, Any], now: datetime) -> float:
    created = task.get("createdAt")
    if isinstance(created, datetime):
        return max(0.0, (now - created).total_seconds())
    return 0.0


def _short(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1]
