"""Lambda ``migration_task``: the task runner's two steps around ``ecs:runTask`` (MigrationRunner
task; see pushgate.migration_task).

- ``{"action": "prepare", "task_definition", "from_revision", "service"}`` -> ``{"upgrade",
  "downgrade"}``: the two runTask requests of the run (no AWS call);
- ``{"action": "watch", "started": {"tasks", "failures"}, "polls", "poll_seconds"}`` ->
  ``{"task_arn", "exit_code", "stop_code", "stopped_reason", "log_tail"}`` once the migration
  container exited 0 (the task stopped by this function when a sidecar kept it running).

Raises MigrationTaskRunning (retried by the state machine), MigrationTaskFailed,
MigrationTaskTimeout, MigrationTaskNotStarted, InvalidRequest (pushgate.errors).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pushgate.aws import Clients
from pushgate.errors import InvalidRequest, MigrationTaskRunning, PushgateError
from pushgate.migration_task import TaskRunnerSettings, task_requests
from pushgate.task_watch import TaskWatcher, WatchRequest

if TYPE_CHECKING:  # annotations only: its import is ~2 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

# cold start: a missing or unsplittable command, or a bad timeout, fails here, clearly.
# "prepare" calls no AWS API, and the logs are read once, when the task has stopped: both
# clients are made on their first use (pushgate.aws), not in every cold start.
RUNNER = TaskRunnerSettings.from_env(os.environ)
_CLIENTS = Clients()
WATCHER = TaskWatcher(RUNNER, _CLIENTS.on_first_use("ecs"), _CLIENTS.on_first_use("logs"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    action = event.get("action") if isinstance(event, dict) else None
    try:
        if action == "prepare":
            requests = task_requests(RUNNER, event)
            metrics.add_metric(name="MigrationTasksPrepared", unit=MetricUnit.Count, value=1)
            return dict(requests)
        if action == "watch":
            outcome = WATCHER.watch(WatchRequest.from_event(event))
            metrics.add_metric(name="MigrationTasksSucceeded", unit=MetricUnit.Count, value=1)
            logger.info("migration task finished", extra=dict(outcome))
            return dict(outcome)
        raise InvalidRequest(f"action must be prepare or watch, got {action!r}")
    except MigrationTaskRunning:
        # the state machine's retry: not a failure
        metrics.add_metric(name="MigrationTaskPolls", unit=MetricUnit.Count, value=1)
        raise
    except PushgateError as exc:
        metrics.add_metric(name="MigrationTaskFailures", unit=MetricUnit.Count, value=1)
        logger.error(
            "migration task step failed",
            extra={"error_type": type(exc).__name__, "error": str(exc)},
        )
        raise
