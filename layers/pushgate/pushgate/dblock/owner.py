"""Is the execution that holds the database lock still running? (the takeover rule's question)

Asked only when another execution holds the lock, so botocore is imported here, on that path, and
never at ``check_database``'s cold start. The answer:

- ``running``: ``states:DescribeExecution`` says RUNNING: the lock is held;
- ``ended``: any other status, or no such execution (``ExecutionDoesNotExist``, ``InvalidArn``,
  or an owner that is no execution ARN at all): the lock is taken over;
- ``unknown``: the owner cannot be described from here: another account's or Region's
  execution (the function's IAM allows only its own account's and Region's, so it is not
  asked), or the call failed (AccessDenied, throttled, unreachable). The lock is held until
  its ``expires_at``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from pushgate.dblock.claim import ExecutionArn
from pushgate.lockwait import NO_SUCH_EXECUTION, RUNNING

OwnerState = Literal["running", "ended", "unknown"]


@dataclass(frozen=True)
class OwnerLook:
    """What was found out about the owner, and how (for the error message)."""

    state: OwnerState
    how: str


def look_at_owner(owner: str, me: ExecutionArn) -> OwnerLook:
    """Describe ``owner`` (an execution ARN as its row holds it) as seen from execution ``me``."""
    parsed = ExecutionArn.parse(owner)
    if parsed is None:
        return OwnerLook("ended", "it is no execution ARN")
    if not parsed.same_place(me):
        return OwnerLook(
            "unknown",
            "it is another account's or Region's execution, which this stack may not describe",
        )
    return _describe(parsed)


@functools.cache
def _client(region: str) -> Any:
    """Step Functions of ``region`` (made once per warm instance: a waiting run asks again
    every minute)."""
    from botocore.config import Config

    from pushgate.aws import Clients

    config = Config(
        region_name=region,
        connect_timeout=3,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return Clients().now("stepfunctions", config)


def _describe(owner: ExecutionArn) -> OwnerLook:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        status = _client(owner.region).describe_execution(executionArn=owner.arn)["status"]
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        if code in NO_SUCH_EXECUTION:
            return OwnerLook("ended", f"DescribeExecution answers {code}")
        return OwnerLook("unknown", f"DescribeExecution failed with {code}")
    except BotoCoreError as exc:
        return OwnerLook("unknown", f"DescribeExecution failed: {type(exc).__name__}")
    if status == RUNNING:
        return OwnerLook("running", "it is RUNNING")
    return OwnerLook("ended", f"it is {status}")
