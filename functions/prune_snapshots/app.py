"""Lambda ``prune_snapshots``: after a successful deploy, delete this stack's old snapshots.

Event: a pushgate "Deployment Succeeded" event of this stack that carries a `snapshot`, delivered
by its EventBridge rule. Keeps the ``KEEP_SNAPSHOTS`` newest of the snapshots of
``DATABASE_INSTANCE_ID`` (or ``DATABASE_CLUSTER_ID``) that are pushgate's prefix and carry the
marker tag ``pushgate:snapshot = SNAPSHOT_MARKER``, deletes the rest; every other snapshot is
left alone. Returns ``{"kept", "deleted", "ignored"}``. Raises ``InvalidRequest`` for another
event or bad settings (nothing is deleted). See pushgate.snapshot.policy.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pushgate.errors import InvalidRequest
from pushgate.snapshot.policy import prune
from pushgate.snapshot.requests import PruneSettings, succeeded_execution
from pushgate.snapshot.store import SnapshotStore

logger = Logger()
RDS = boto3.client("rds", config=Config(retries={"mode": "standard", "max_attempts": 5}))


def _settings() -> PruneSettings | InvalidRequest:
    try:
        return PruneSettings.from_environment(os.environ)
    except InvalidRequest as exc:  # every invocation fails with it, clearly
        return exc


# cold start: the instance or cluster, the marker and the count, checked once
SETTINGS = _settings()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if isinstance(SETTINGS, InvalidRequest):
        logger.error("prune settings are invalid", extra={"error": str(SETTINGS)})
        raise InvalidRequest(str(SETTINGS))
    execution = succeeded_execution(event)
    pruned = prune(
        SnapshotStore(RDS, SETTINGS.kind),
        SETTINGS.source,
        marker=SETTINGS.marker,
        keep=SETTINGS.keep,
    )
    logger.info("snapshots pruned", extra={"execution": execution, **pruned.to_json()})
    return pruned.to_json()
