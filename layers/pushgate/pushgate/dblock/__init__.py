"""The database lock: two stacks on one database never migrate at once.

A row in the database itself (``pushgate_deploy_lock``, in the version table's schema), keyed by
the version table's qualified name, owned by an execution, so every stack whose runs share a
revision history sees it, whichever runner migrates. "Check database" takes it in the
transaction that reads the revision; "Release the database lock" deletes this execution's row.
The takeover rules are the deployment lock's (`pushgate.lock`): a redrive re-enters, an owner no
longer RUNNING is taken over, an owner that cannot be described is held until its
``expires_at``.

- :mod:`~pushgate.dblock.claim`: the requests (:class:`LockClaim`, the release's owner);
- :mod:`~pushgate.dblock.owner`: is the owner still running (boto3 only on that path);
- :mod:`~pushgate.dblock.table`: the table, its row, take and release.
"""

from __future__ import annotations

from pushgate.dblock.claim import ExecutionArn, LockClaim, release_owner
from pushgate.dblock.owner import OwnerLook, look_at_owner
from pushgate.dblock.table import (
    LOCK_TABLE,
    LockPlace,
    LockTaken,
    Released,
    lock_place,
    release_database_lock,
    release_lock,
    take_lock,
)

__all__ = [
    "LOCK_TABLE",
    "ExecutionArn",
    "LockClaim",
    "LockPlace",
    "LockTaken",
    "OwnerLook",
    "Released",
    "lock_place",
    "look_at_owner",
    "release_database_lock",
    "release_lock",
    "release_owner",
    "take_lock",
]
