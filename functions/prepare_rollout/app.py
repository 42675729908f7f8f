"""Lambda ``prepare_rollout``: the task-definition revision that pins a pushed image by digest.

Event ``{"repository", "digest", "tag"?, "account", "region"}``. Returns
``{"previous_task_definition", "task_definition", "desired_count", "image", "reused"}``: the
service's current revision, the revision to roll out (registered now, or reused when one with
exactly that content exists), the service's desired count and the pinned image. Raises
``InvalidRequest``, ``ServiceNotFound`` or ``ContainerNotFound``. It never updates the service.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from pushgate.aws import Clients
from pushgate.errors import PushgateError
from pushgate.push import PushedImage
from pushgate.rollout import Rollout, RolloutResult, RolloutTarget, register_fields_of

if TYPE_CHECKING:  # annotations only: its import is ~2 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # patch_all would import SQLAlchemy, requests
metrics = Metrics()

# cold start: a missing CLUSTER_NAME / SERVICE_NAME / CONTAINER_NAME fails here, clearly
TARGET = RolloutTarget.from_environment(os.environ)
ECS = Clients().now("ecs")
ROLLOUT = Rollout(ECS, TARGET, register_fields_of(ECS))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> RolloutResult:
    logger.append_keys(cluster=TARGET.cluster, service=TARGET.service, container=TARGET.container)
    try:
        result = ROLLOUT.prepare(PushedImage.from_event(event))
    except PushgateError as exc:
        metrics.add_metric(name="RolloutPreparationFailures", unit=MetricUnit.Count, value=1)
        logger.error(
            "rollout not prepared", extra={"error_type": type(exc).__name__, "error": str(exc)}
        )
        raise
    metrics.add_metric(
        name="TaskDefinitionReused" if result["reused"] else "TaskDefinitionRegistered",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info("rollout prepared", extra=dict(result))
    return result
