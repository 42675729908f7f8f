"""Lambda ``await_snapshot``: is the snapshot taken before the migration available yet?

Event ``{"kind": "instance"|"cluster", "id", "polls", "poll_seconds", "deadline_seconds"}`` from
"Wait until the snapshot is available". Returns the snapshot ``{"kind", "id", "arn", "status",
"created_at"}`` once RDS says it is available. Raises ``SnapshotNotReady`` while it is being
taken (the definition asks again), ``SnapshotTimedOut`` past the deadline, ``SnapshotFailed``
for a failed or missing snapshot, ``InvalidRequest`` for a malformed event. It changes nothing.
See pushgate.snapshot.policy.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pushgate.errors import SnapshotError
from pushgate.snapshot.policy import await_snapshot
from pushgate.snapshot.requests import AwaitRequest
from pushgate.snapshot.store import SnapshotStore

logger = Logger()
RDS = boto3.client("rds", config=Config(retries={"mode": "standard", "max_attempts": 5}))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = AwaitRequest.from_event(event)
    logger.append_keys(snapshot=request.identifier, polls=request.polls)
    try:
        snapshot = await_snapshot(
            SnapshotStore(RDS, request.kind),
            request.identifier,
            polls=request.polls,
            poll_seconds=request.poll_seconds,
            deadline_seconds=request.deadline_seconds,
        )
    except SnapshotError as exc:
        logger.info("snapshot not available", extra={"error_type": type(exc).__name__})
        raise
    logger.info("snapshot available", extra={"arn": snapshot.arn})
    return snapshot.to_json()
