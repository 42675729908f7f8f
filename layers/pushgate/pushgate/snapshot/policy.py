"""What a run does with its snapshots: wait for the new one, and prune the old ones.

Waiting is bounded by the definition's count of its polls, not by a clock read here: "Wait until
the snapshot is available" asks every `poll_seconds` and passes how often it has asked
(``$$.State.RetryCount``), so a deadline of D seconds is D / poll_seconds polls, the way the
health wait counts its safety polls.

Pruning keeps the `keep` newest of the stack's own snapshots of its instance or cluster: those
whose name starts with pushgate's prefix **and** whose marker tag names this stack's service.
A snapshot anybody else took (an automated backup, a hand-made one, another stack's) is never
touched, whatever its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pushgate.errors import InvalidRequest, SnapshotFailed, SnapshotNotReady, SnapshotTimedOut
from pushgate.snapshot.naming import MARKER_TAG, PREFIX
from pushgate.snapshot.store import Snapshot, SnapshotStore

AVAILABLE = "available"
IN_PROGRESS = frozenset({"creating", "backing-up", "copying", "pending"})


def await_snapshot(
    store: SnapshotStore, identifier: str, *, polls: int, poll_seconds: int, deadline_seconds: int
) -> Snapshot:
    """The snapshot once available. SnapshotNotReady while it is being taken and the deadline is
    ahead; SnapshotTimedOut once `polls * poll_seconds` reached the deadline; SnapshotFailed for a
    snapshot that failed, is in any other state, or does not exist."""
    if min(polls, deadline_seconds) < 0 or poll_seconds <= 0:
        raise InvalidRequest("polls and deadline_seconds must be >= 0, poll_seconds > 0")
    snapshot = store.find(identifier)
    if snapshot is None:
        raise SnapshotFailed(f"RDS has no {store.kind.name.lower()} snapshot {identifier}")
    if snapshot.status == AVAILABLE:
        return snapshot
    if snapshot.status not in IN_PROGRESS:
        raise SnapshotFailed(
            f"snapshot {identifier} is {snapshot.status!r}, not available: nothing was migrated"
        )
    waited = polls * poll_seconds
    if waited >= deadline_seconds:
        raise SnapshotTimedOut(
            f"snapshot {identifier} is still {snapshot.status!r} after {waited} s (deadline "
            f"{deadline_seconds} s): nothing was migrated; RDS goes on taking it"
        )
    raise SnapshotNotReady(f"snapshot {identifier} is {snapshot.status!r} after {waited} s")


@dataclass(frozen=True)
class Pruned:
    kept: list[str]  # newest first
    deleted: list[str]
    ignored: int  # snapshots of the source that are not this stack's (never touched)

    def to_json(self) -> dict[str, object]:
        return {"kept": self.kept, "deleted": self.deleted, "ignored": self.ignored}


def is_own(snapshot: Snapshot, marker: str) -> bool:
    """pushgate's snapshot of this stack: its prefix and its marker tag, both."""
    return snapshot.identifier.startswith(PREFIX) and snapshot.tags.get(MARKER_TAG) == marker


def prune(store: SnapshotStore, source: str, *, marker: str, keep: int) -> Pruned:
    """Delete this stack's available snapshots of `source` beyond the `keep` newest."""
    if keep < 1:
        raise InvalidRequest(f"keep must be at least 1, not {keep}")
    snapshots = list(store.of_source(source))
    own = [s for s in snapshots if is_own(s, marker)]
    own.sort(key=lambda s: s.created_at or datetime.max.replace(tzinfo=UTC), reverse=True)
    kept, beyond = own[:keep], own[keep:]
    deleted = []
    for snapshot in beyond:
        if snapshot.status == AVAILABLE:  # one still being taken is left for the next prune
            store.delete(snapshot.identifier)
            deleted.append(snapshot.identifier)
    return Pruned(
        kept=[s.identifier for s in kept],
        deleted=deleted,
        ignored=len(snapshots) - len(own),
    )
