"""Lambda ``describe_push``: the push a run deploys, from the execution input.

Event ``{"input": <the execution input>, "started_at": <the execution's start time>}``. The input
is an ECR "ECR Image Action" event or a replay ``{repository?, tag?, digest?}``. Returns the
normalised push ``{source, repository, tag, digest, account, region, pushed_at, image_id}``
(`pushgate.push.NormalisedPush`). Raises ``InvalidPush`` (the run is rejected; the message is
the reason) or ``InvalidRequest`` (the call itself is malformed). It reads and changes nothing.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pushgate.errors import InvalidPush
from pushgate.push import NormalisedPush, Stack
from pushgate.push_rules import describe_push

if TYPE_CHECKING:  # annotations only: its import is ~2 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

# cold start: a missing or malformed REPOSITORY_NAME / _ACCOUNT_ID / _REGION fails here, clearly
STACK = Stack.from_environment(os.environ)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> NormalisedPush:
    try:
        push = describe_push(event, STACK)
    except InvalidPush as exc:
        logger.warning("push rejected", extra={"reason": str(exc)})
        raise
    logger.info("push described", extra={"push": dict(push)})
    return push
