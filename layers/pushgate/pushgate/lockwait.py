"""What the two locks (the deployment lock, :mod:`pushgate.lock`; the database lock,
:mod:`pushgate.dblock`) share: how an owner execution is told apart from a stale one, and the
error a run gets while the lock stays held. No botocore here: check_database imports it at cold
start."""

from __future__ import annotations

from typing import Final

from pushgate.errors import PushgateError

RUNNING: Final = "RUNNING"
# describeExecution's answers for an owner that is no execution (any more): its lock is stale
NO_SUCH_EXECUTION: Final = frozenset({"ExecutionDoesNotExist", "InvalidArn"})


def still_held(
    held: str,
    waited_seconds: float,
    wait_seconds: float,
    *,
    retry: type[PushgateError],
    timeout: type[PushgateError],
) -> PushgateError:
    """``retry(held)`` (the definition asks again), or ``timeout`` once the run has waited its
    lock wait since it started."""
    if waited_seconds >= wait_seconds:
        return timeout(
            f"{held}; this run has waited {waited_seconds:.0f} seconds since it started, its lock "
            f"wait is {wait_seconds:.0f} seconds"
        )
    return retry(held)
