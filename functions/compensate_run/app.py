"""Lambda ``compensate_run``: compensates a deploy run that died, from outside it.

Invoked by the ExecutionStatusRule (a "Step Functions Execution Status Change" event of the
deploy state machine, status FAILED, TIMED_OUT or ABORTED). A run that ended through one of
the definition's own Fail states compensated itself and is skipped; any other (States.Runtime,
States.DataLimitExceeded, a timeout, an abort) is compensated as :mod:`pushgate.deadrun` says.
Returns the report ``{"execution_arn", "outcome", "steps", "revert", "error", "cause"}``.
Raises ``InvalidRequest`` for an event that is not such a status change.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pushgate.aws import Clients
from pushgate.compensation import Compensation
from pushgate.deadrun import CompensationSettings, parse_status_change, read_dead_run
from pushgate.errors import PushgateError

if TYPE_CHECKING:  # annotations only: its import is ~2 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

# cold start: a missing setting fails here, clearly
CONFIG = CompensationSettings.from_env(os.environ)
# every invocation reads the dead run's history; only a run that did not compensate itself
# (most failures do, through the definition's own Catch) releases the lock and alerts, only one
# that had moved the service asks ECS, only one that had migrated invokes run_migrations
_CLIENTS = Clients()
SFN = _CLIENTS.now("stepfunctions")
CLIENTS = {
    "dynamodb": _CLIENTS.on_first_use("dynamodb"),
    "events": _CLIENTS.on_first_use("events"),
    "ecs": _CLIENTS.on_first_use("ecs"),
    "lambda": _CLIENTS.on_first_use("lambda"),
}
COMPENSATION = Compensation(CONFIG, CLIENTS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        execution_arn, status = parse_status_change(event, CONFIG.state_machine_arn)
    except PushgateError as exc:
        logger.error("not a dead run", extra={"error_type": type(exc).__name__, "error": str(exc)})
        raise
    logger.append_keys(execution_arn=execution_arn, status=status)
    dead = read_dead_run(SFN, execution_arn)
    if dead is None:
        metrics.add_metric(name="DeadRunsSkipped", unit=MetricUnit.Count, value=1)
        logger.info("the run ended through its own compensation: nothing to do")
        return {"execution_arn": execution_arn, "outcome": "compensated_itself", "steps": []}
    report = COMPENSATION.run(dead)
    metrics.add_metric(name="DeadRunsCompensated", unit=MetricUnit.Count, value=1)
    if report.outcome == "rollback_failed":
        metrics.add_metric(name="DeadRunCompensationFailures", unit=MetricUnit.Count, value=1)
        logger.error("dead run compensation failed", extra=report.to_json())
    else:
        logger.info("dead run compensated", extra=report.to_json())
    return report.to_json()
