"""Lambda ``observe_outcome``: a deploy's announcement, noted in the serving record and as metrics.

Event: a pushgate "Deployment ..." event of this stack, delivered by ``OutcomeRule``. Updates the
serving record (``pushgate.serving.ServingRecord``: consecutive failures, the revision reached)
and emits ``Deployments<Outcome>`` (or ``RollbackFailures``), ``ConsecutiveFailures`` and, for a
success, ``PushToHealthySeconds``, each with the ``environment`` dimension. Returns what it noted.
Raises ``InvalidRequest`` for an event that is not such an announcement (nothing is changed).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pushgate.aws import Clients
from pushgate.serving import (
    CONSECUTIVE_FAILURES,
    OUTCOME_METRICS,
    PUSH_TO_HEALTHY,
    Outcome,
    ServingRecord,
)

if TYPE_CHECKING:  # annotations only: its import is ~2 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


# cold start: a missing LOCK_TABLE_NAME / SERVING_RECORD_ID fails here, clearly
RECORD = ServingRecord.from_environment(Clients().now("dynamodb"), os.environ)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    outcome = Outcome.from_event(event)
    noted = RECORD.note(outcome)
    metrics.add_dimension(name="environment", value=outcome.environment)
    metrics.add_metric(name=OUTCOME_METRICS[outcome.outcome], unit=MetricUnit.Count, value=1)
    if noted.consecutive_failures is not None:
        metrics.add_metric(
            name=CONSECUTIVE_FAILURES, unit=MetricUnit.Count, value=noted.consecutive_failures
        )
    if noted.push_to_healthy_seconds is not None:
        metrics.add_metric(
            name=PUSH_TO_HEALTHY, unit=MetricUnit.Seconds, value=noted.push_to_healthy_seconds
        )
    result = {
        "outcome": outcome.outcome,
        "execution_arn": outcome.execution_arn,
        "consecutive_failures": noted.consecutive_failures,
        "push_to_healthy_seconds": noted.push_to_healthy_seconds,
    }
    logger.info("outcome noted", extra=result)
    return result
