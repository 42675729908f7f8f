"""Move the schema safely: plan, upgrade, downgrade (the ``run_migrations`` Lambda's work).

One job per module:

- :mod:`~pushgate.migrator.request`: the request, the settings, the result (the contract);
- :mod:`~pushgate.migrator.scripts`: the revision graph (targets, ancestry, steps);
- :mod:`~pushgate.migrator.plan`: what a request will do (steps, pending revisions, SQL);
- :mod:`~pushgate.migrator.downgrade`: whether a revision can be undone, read from its source;
- :mod:`~pushgate.migrator.connection`: the connection and the advisory lock;
- :mod:`~pushgate.migrator.transaction`: the one deadline-aware transaction;
- :mod:`~pushgate.migrator.retry`: what a failed transaction means (a ``RetryDecision``);
- :mod:`~pushgate.migrator.outcome`: what a COMMIT whose reply was lost really did;
- :mod:`~pushgate.migrator.revert`: back to the run's from_revision, only if this run moved it;
- :mod:`~pushgate.migrator.private`: the one private library call, wrapped once;
- :mod:`~pushgate.migrator.runner`: :class:`Migrator`, which runs them in order.

The names below are the package's public API.
"""

from __future__ import annotations

from pushgate.migrator.connection import MIGRATION_LOCK_KEY
from pushgate.migrator.downgrade import has_working_downgrade
from pushgate.migrator.request import (
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_LOCK_WAIT_SECONDS,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    MigrationRequest,
    MigrationResult,
    MigrationSettings,
    PendingRevision,
)
from pushgate.migrator.runner import DEADLINE_MARGIN_SECONDS, Migrator

__all__ = [
    "DEADLINE_MARGIN_SECONDS",
    "DEFAULT_LOCK_TIMEOUT_MS",
    "DEFAULT_LOCK_WAIT_SECONDS",
    "DEFAULT_STATEMENT_TIMEOUT_MS",
    "MIGRATION_LOCK_KEY",
    "MigrationRequest",
    "MigrationResult",
    "MigrationSettings",
    "Migrator",
    "PendingRevision",
    "has_working_downgrade",
]
