"""What a run of the offline interpreter reports, and the hook type it calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

ServiceCallHook = Callable[[str, str, dict[str, Any]], None]
"""``hook(boto_service, operation, parameters)``, e.g. ``("ecs", "DescribeServices", {...})``."""


class WaitRecord(NamedTuple):
    """A wait that took no wall-clock time: a Wait state or a Retry back-off."""

    state: str
    seconds: float
    kind: Literal["wait", "retry"]

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
