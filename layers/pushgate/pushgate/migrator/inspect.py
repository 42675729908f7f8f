"""The read-only actions of the task runner: where the database is, read from the version table
and judged against the image's revision graph (parsed, never imported). Nothing is run.

- ``inspect`` (after a migration or downgrade task): from the run's ``from_revision`` to the
  database's revision now, and the revisions between them (upgraded: oldest first; downgraded:
  newest first), the same result the Lambda runner gives; with ``expected_current`` a database
  elsewhere is ``SchemaDrift``;
- ``check_revert`` (before a downgrade task): the revert's own rule
  (:func:`~pushgate.migrator.revert.revert_target`): ``downgrade`` true when the database is
  between ``from_revision`` and head (this run's doing), false when already there, SchemaDrift
  otherwise, so no downgrade task runs against someone else's schema.
"""

from __future__ import annotations

from pushgate.errors import InvalidRequest, SchemaDrift
from pushgate.migrator.request import MigrationRequest, MigrationResult, migration_result
from pushgate.migrator.revert import revert_target
from pushgate.migrator.scripts import Revision, RevisionGraph, Target


def read_only_result(
    graph: RevisionGraph, request: MigrationRequest, target: Target, current: str | None
) -> MigrationResult:
    """``inspect`` or ``check_revert`` of ``current`` (see the module's docstring)."""
    if not isinstance(target, Revision):
        raise InvalidRequest(f"{request.action} needs an exact from_revision")
    if request.action == "check_revert":
        result = migration_result("check_revert", current, current, [])
        result["downgrade"] = revert_target(graph, target, current) is not None
        return result
    graph.check_known(current)
    expected = request.expected_current
    if expected is not None and (None if expected == "base" else expected) != current:
        raise SchemaDrift(f"the database is at {current or 'base'}, expected {expected}")
    start = target.id
    if start == current:
        moved = []
    elif graph.is_ancestor(start, current):
        moved = graph.pending("upgrade", current or "base", start)
    elif graph.is_ancestor(current, start):
        moved = graph.pending("downgrade", current or "base", start)
    else:
        raise SchemaDrift(
            f"the database is at {current or 'base'}, on another branch than the run's "
            f"from_revision {target.destination}"
        )
    return migration_result("inspect", start, current, [r.revision for r in moved])
