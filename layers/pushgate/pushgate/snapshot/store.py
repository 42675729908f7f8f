"""RDS's manual snapshots of one DB instance or one Aurora cluster, through boto3.

The two kinds differ only in names (``describe_db_snapshots`` / ``describe_db_cluster_snapshots``,
``DBSnapshotIdentifier`` / ``DBClusterSnapshotIdentifier``, ...): `Kind` holds them, so the
policy (`pushgate.snapshot.policy`) is written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from pushgate.errors import InvalidRequest


@dataclass(frozen=True)
class _Names:
    describe: str
    delete: str
    source: str  # the parameter naming the instance or cluster
    identifier: str  # the snapshot's identifier parameter and field
    listing: str  # the describe answer's list
    arn: str
    not_found: str  # the modelled exception of an unknown snapshot


class Kind(Enum):
    INSTANCE = _Names(
        "describe_db_snapshots",
        "delete_db_snapshot",
        "DBInstanceIdentifier",
        "DBSnapshotIdentifier",
        "DBSnapshots",
        "DBSnapshotArn",
        "DBSnapshotNotFoundFault",
    )
    CLUSTER = _Names(
        "describe_db_cluster_snapshots",
        "delete_db_cluster_snapshot",
        "DBClusterIdentifier",
        "DBClusterSnapshotIdentifier",
        "DBClusterSnapshots",
        "DBClusterSnapshotArn",
        "DBClusterSnapshotNotFoundFault",
    )

    @classmethod
    def named(cls, name: Any) -> Kind:
        """``instance`` or ``cluster`` (the definition's word); raises InvalidRequest."""
        for kind in cls:
            if kind.name.lower() == name:
                return kind
        raise InvalidRequest(f"snapshot kind {name!r} is neither 'instance' nor 'cluster'")


@dataclass(frozen=True)
class Snapshot:
    """One manual snapshot as RDS describes it."""

    kind: Kind
    identifier: str
    arn: str | None
    status: str
    created_at: datetime | None  # None while RDS has not stamped it
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.name.lower(),
            "id": self.identifier,
            "arn": self.arn,
            "status": self.status,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


class SnapshotStore:
    """The snapshots of one kind in one account and region (a boto3 RDS client)."""

    def __init__(self, rds: Any, kind: Kind) -> None:
        self._rds = rds
        self.kind = kind

    def find(self, identifier: str) -> Snapshot | None:
        """The snapshot with this identifier, or None when RDS has none."""
        names = self.kind.value
        not_found = getattr(self._rds.exceptions, names.not_found)
        try:
            answer = getattr(self._rds, names.describe)(**{names.identifier: identifier})
        except not_found:
            return None
        found = [self._snapshot(item) for item in answer.get(names.listing, [])]
        return found[0] if found else None

    def of_source(self, source: str) -> Iterator[Snapshot]:
        """Every manual snapshot of this instance or cluster (all pages)."""
        names = self.kind.value
        paginator = self._rds.get_paginator(names.describe)
        for page in paginator.paginate(**{names.source: source, "SnapshotType": "manual"}):
            for item in page.get(names.listing, []):
                yield self._snapshot(item)

    def delete(self, identifier: str) -> None:
        names = self.kind.value
        getattr(self._rds, names.delete)(**{names.identifier: identifier})

    def _snapshot(self, item: Mapping[str, Any]) -> Snapshot:
        names = self.kind.value
        created = item.get("SnapshotCreateTime")
        return Snapshot(
            kind=self.kind,
            identifier=str(item[names.identifier]),
            arn=item.get(names.arn),
            status=str(item.get("Status", "")),
            created_at=created if isinstance(created, datetime) else None,
            tags={str(t["Key"]): str(t.get("Value", "")) for t in item.get("TagList", [])},
        )
