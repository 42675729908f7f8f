"""What a run of the offline interpreter reports, and the hook type it calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

ServiceCallHook = Callable[[str, str, dict[str, Any]], None]
TokenWaitHook = Callable[[str, str], None]
"""``hook(execution_arn, state_name)``: a task waits for its task token; it may answer now."""
WaitKind = Literal["wait", "retry", "timeout", "woken"]
"""``hook(boto_service, operation, parameters)``, e.g. ``("ecs", "DescribeServices", {...})``."""


class WaitRecord(NamedTuple):
    """A wait that took no wall-clock time: a Wait state, a Retry back-off, or a wait for a
    task token that was answered (``woken``) or timed out (``timeout``)."""

    state: str
    seconds: float
    kind: WaitKind

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "seconds": self.seconds, "kind": self.kind}


@dataclass(frozen=True)
class ExecutionReport:
    """What a person checks after a run (console view: status, graph path, waits, history)."""

    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    path: list[str]
    waits: list[WaitRecord]
    transitions: int
