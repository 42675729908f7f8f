"""What "Check database" and "Release the database lock" ask of the database lock: parsed.

``check_database``'s event carries ``database_lock: {owner, service, started_at, wait_seconds,
hold_seconds}`` when the run takes the lock (without it the check is a probe that takes
nothing); its ``{"action": "release", "database_lock": {"owner"}}`` releases it. An owner is a
Step Functions execution ARN (:class:`ExecutionArn`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pushgate.errors import InvalidRequest

LOCK_KEY: Final = "database_lock"
_EXECUTION_ARN: Final = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):states:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12})"
    r":execution:[^:]+:[^:]+$"
)


@dataclass(frozen=True)
class ExecutionArn:
    """A Step Functions execution ARN, split where the lock's takeover rule needs it."""

    arn: str
    partition: str
    region: str
    account: str

    @classmethod
    def parse(cls, arn: str) -> ExecutionArn | None:
        """The parts of ``arn``, or None when it is no execution ARN."""
        found = _EXECUTION_ARN.match(arn)
        if found is None:
            return None
        return cls(arn, found["partition"], found["region"], found["account"])

    def same_place(self, other: ExecutionArn) -> bool:
        """Whether ``other`` is an execution of this one's partition, account and Region."""
        mine = (self.partition, self.account, self.region)
        return mine == (other.partition, other.account, other.region)


def _section(event: Any) -> Mapping[str, Any]:
    section = event.get(LOCK_KEY) if isinstance(event, Mapping) else None
    if not isinstance(section, Mapping):
        raise InvalidRequest(f"{LOCK_KEY!r} must be a JSON object")
    return section


def _owner(section: Mapping[str, Any]) -> ExecutionArn:
    owner = section.get("owner")
    parsed = ExecutionArn.parse(owner) if isinstance(owner, str) else None
    if parsed is None:
        raise InvalidRequest(
            f"{LOCK_KEY}.owner must be this run's execution ARN "
            f"(arn:<partition>:states:<region>:<account>:execution:...), got {owner!r}"
        )
    return parsed


def _seconds(section: Mapping[str, Any], key: str) -> float:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidRequest(f"{LOCK_KEY}.{key} must be a number >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class LockClaim:
    """This run's claim on the database lock, from "Check database"'s payload."""

    owner: ExecutionArn  # this execution: a redrive re-enters the lock it holds
    service: str  # <cluster>/<service>: who holds it, for the humans of another stack
    started_at: datetime  # the execution's start: the lock wait counts from it
    wait_seconds: float  # how long this run may wait for another's lock (its lock wait)
    hold_seconds: float  # how long a run can hold it at most: its row's expires_at

    @classmethod
    def from_event(cls, event: Any) -> LockClaim | None:
        """The claim of a check's event, or None when it asks for no lock (a probe)."""
        if not isinstance(event, Mapping) or LOCK_KEY not in event:
            return None
        section = _section(event)
        service = section.get("service")
        if not isinstance(service, str) or not service.strip():
            raise InvalidRequest(f"{LOCK_KEY}.service must be a non-empty string")
        started = section.get("started_at")
        try:
            started_at = datetime.fromisoformat(started) if isinstance(started, str) else None
        except ValueError:
            started_at = None
        if started_at is None or started_at.tzinfo is None:
            raise InvalidRequest(
                f"{LOCK_KEY}.started_at must be an ISO 8601 time with its zone, got {started!r}"
            )
        return cls(
            owner=_owner(section),
            service=service,
            started_at=started_at,
            wait_seconds=_seconds(section, "wait_seconds"),
            hold_seconds=_seconds(section, "hold_seconds"),
        )


def release_owner(event: Any) -> ExecutionArn:
    """The execution whose row a release deletes (``database_lock.owner``)."""
    return _owner(_section(event))
