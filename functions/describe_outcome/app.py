"""Lambda ``describe_outcome``: the Deployment event that says how a run ended.

Event ``{"execution_id", "input", "settings", "push", "migration", "rollout", "error",
"rejection", "rollback", "rollback_error"}`` (the last four null until the run wrote them).
Returns ``{"detail_type", "detail"}`` for "Send the announcement"; raises ``InvalidRequest`` for
a malformed event. It reads and changes nothing. See pushgate.outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pushgate.errors import InvalidRequest
from pushgate.outcome import Announcement, describe_outcome

if TYPE_CHECKING:  # annotations only: its import is ~2 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> Announcement:
    try:
        announcement = describe_outcome(event)
    except InvalidRequest as exc:
        logger.error("outcome not described", extra={"error": str(exc)})
        raise
    logger.info("outcome described", extra={"detail_type": announcement["detail_type"]})
    return announcement
