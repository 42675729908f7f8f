"""What the snapshot functions are given, parsed and checked: the definition's wait request, the
announcement a prune answers, and the prune's settings (read at cold start)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushgate import settings
from pushgate.errors import InvalidRequest
from pushgate.snapshot.store import Kind

SUCCEEDED = "Deployment Succeeded"


def _count(event: Mapping[str, Any], key: str) -> int:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{key!r} must be a whole number >= 0, not {value!r}")
    return value


@dataclass(frozen=True)
class AwaitRequest:
    """``{"kind", "id", "polls", "poll_seconds", "deadline_seconds"}`` from "Wait until the
    snapshot is available" (`polls` is ``$$.State.RetryCount``: how often it asked before)."""

    kind: Kind
    identifier: str
    polls: int
    poll_seconds: int
    deadline_seconds: int

    @classmethod
    def from_event(cls, event: Any) -> AwaitRequest:
        if not isinstance(event, Mapping):
            raise InvalidRequest("the event must be a JSON object")
        identifier = event.get("id")
        if not isinstance(identifier, str) or not identifier:
            raise InvalidRequest("'id' (the snapshot's identifier) must be a non-empty string")
        request = cls(
            kind=Kind.named(event.get("kind")),
            identifier=identifier,
            polls=_count(event, "polls"),
            poll_seconds=_count(event, "poll_seconds"),
            deadline_seconds=_count(event, "deadline_seconds"),
        )
        if request.poll_seconds == 0:
            raise InvalidRequest("'poll_seconds' must be at least 1")
        return request


def succeeded_execution(event: Any) -> str:
    """The execution ARN of a pushgate "Deployment Succeeded" event; raises InvalidRequest for
    any other event (nothing is pruned)."""
    if (
        not isinstance(event, Mapping)
        or event.get("source") != "pushgate"
        or event.get("detail-type") != SUCCEEDED
        or not isinstance(event.get("detail"), Mapping)
        or not isinstance(event["detail"].get("execution_arn"), str)
    ):
        raise InvalidRequest("the event is not a pushgate Deployment Succeeded announcement")
    return str(event["detail"]["execution_arn"])


@dataclass(frozen=True)
class PruneSettings:
    """Whose snapshots are pruned and how many are kept (the function's environment)."""

    kind: Kind
    source: str  # the DB instance or Aurora cluster identifier
    marker: str  # the marker tag's value: the stack's <cluster>/<service>
    keep: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> PruneSettings:
        """Raises InvalidRequest naming the variable that is missing or wrong."""
        instance = environ.get(settings.DATABASE_INSTANCE_ID, "").strip()
        cluster = environ.get(settings.DATABASE_CLUSTER_ID, "").strip()
        if bool(instance) == bool(cluster):
            raise InvalidRequest(
                f"exactly one of {settings.DATABASE_INSTANCE_ID} and "
                f"{settings.DATABASE_CLUSTER_ID} must be set (got "
                f"{'both' if instance else 'neither'})"
            )
        marker = environ.get(settings.SNAPSHOT_MARKER, "").strip()
        if not marker:
            raise InvalidRequest(f"{settings.SNAPSHOT_MARKER} must be set")
        raw = environ.get(settings.KEEP_SNAPSHOTS, "")
        if not raw.strip().isdigit() or int(raw) < 1:
            raise InvalidRequest(
                f"{settings.KEEP_SNAPSHOTS} must be a whole number >= 1, not {raw!r}"
            )
        return cls(
            kind=Kind.INSTANCE if instance else Kind.CLUSTER,
            source=instance or cluster,
            marker=marker,
            keep=int(raw),
        )
