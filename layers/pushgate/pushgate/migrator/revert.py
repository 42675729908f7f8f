"""The one compensation of every failed or rolled-back migration: put the database back at the
run's ``from_revision`` if, and only if, this run moved it.

The decision reads where the database REALLY is, never what an attempt said it applied: a
migration that failed after a partial commit, a COMMIT whose reply was lost and a rollout that
failed after a clean migration are all the same case. With ``current`` the revision read under
the advisory lock and ``start`` the run's ``from_revision``:

- ``current == start``: nothing to undo (a migration that rolled back, or a revert already
  done: a redrive repeats it safely);
- ``start`` below ``current``, and ``current`` at or below the scripts' head: the revisions
  between them are this run's doing; they are downgraded, newest first, to ``start``;
- anything else (below ``start``, on another branch, unknown to the scripts): ``SchemaDrift``,
  nothing done: someone else moved it, and guessing would destroy their work.
"""

from __future__ import annotations

from pushgate.errors import InvalidRequest, SchemaDrift
from pushgate.migrator.scripts import Revision, RevisionGraph, Target


def revert_target(graph: RevisionGraph, target: Target, current: str | None) -> Revision | None:
    """The revision to downgrade to (None: already there), or SchemaDrift / InvalidRequest."""
    if not isinstance(target, Revision):
        raise InvalidRequest(f"a revert needs an exact from_revision, not {target.destination}")
    if target.id == current:
        return None
    graph.check_known(current)
    head = graph.head()
    if graph.is_ancestor(target.id, current) and graph.is_ancestor(current, head):
        return target
    raise SchemaDrift(
        f"the database is at {current or 'base'}, not between the run's from_revision "
        f"{target.destination} and the scripts' head {head}: not this run's doing; nothing done"
    )
