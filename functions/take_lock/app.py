"""Lambda ``take_lock``: take the service's deployment lock for this execution.

Event ``{"lock_id", "serving_id", "owner", "digest", "pushed_at", "started_at",
"lock_wait_seconds"}``. Returns ``{"superseded", "taken_over"}``: superseded when a newer push
serves already (the lock was not taken), else the lock is this execution's (taken over from the
ended execution `taken_over`, if any). Raises ``DeploymentLockHeld`` while another RUNNING
execution holds it (the definition retries), ``DeploymentLockTimeout`` once this run has waited
longer than its lock wait, ``InvalidRequest`` for a malformed event. See pushgate.lock.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pushgate.aws import Clients
from pushgate.errors import DeploymentLockHeld, PushgateError
from pushgate.lock import DeploymentLock, LockRequest, LockTaken, lock_table

logger = Logger()
# No Powertools Tracer: a waiting run calls this once a minute, and the X-Ray SDK's import is
# about 150 ms of every cold start (`make bench`); Lambda's active tracing still records it.

# cold start: a missing LOCK_TABLE_NAME fails here, clearly. Step Functions is asked only
# whether a held lock's holder still runs: its client is made then (pushgate.aws).
_CLIENTS = Clients()
LOCK = DeploymentLock(
    _CLIENTS.now("dynamodb"), _CLIENTS.on_first_use("stepfunctions"), lock_table(os.environ)
)

if TYPE_CHECKING:  # annotations only: its import is ~2 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> LockTaken:
    try:
        request = LockRequest.from_event(event)
        logger.append_keys(lock_id=request.lock_id)
        taken = LOCK.take(request)
    except DeploymentLockHeld as exc:
        logger.info("deployment lock held", extra={"error": str(exc)})
        raise
    except PushgateError as exc:
        logger.error(
            "deployment lock not taken",
            extra={"error_type": type(exc).__name__, "error": str(exc)},
        )
        raise
    logger.info("deployment lock taken", extra=dict(taken))
    return taken
