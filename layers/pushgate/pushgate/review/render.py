"""Each pending revision's SQL, upgrade and downgrade, as the run would send it.

The SQL comes from alembic's offline mode in pushgate's own environment
(:func:`pushgate.migrator.environment.offline_sql`: the same ``EnvironmentContext``, version
table and steps the run uses), never from the project's env.py. The plan is the run's own
(:func:`pushgate.migrator.plan.make_plan` from the database's revision to head), rendered once
upwards and once downwards; each step notes where its SQL starts and ends in the output, so a
revision's SQL is exactly what its ``upgrade()`` / ``downgrade()`` emitted: no BEGIN/COMMIT, no
version-table statements (pushgate's, not the revision's). A revision that raises while it is
rendered (it reads the database, say) is noted with its error, and the others still render.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alembic.runtime.migration import MigrationContext, RevisionStep

from pushgate.migrator import environment
from pushgate.migrator.plan import Plan, make_plan
from pushgate.migrator.request import Direction
from pushgate.migrator.scripts import Revision, RevisionGraph
from pushgate.versiontable import VersionTable

MAX_ERROR = 300  # a render error's words, as a finding quotes them


@dataclass(frozen=True)
class RenderedSQL:
    """One revision's SQL in one direction; ``error`` when it could not be rendered."""

    revision: str
    direction: Direction
    sql: str
    error: str | None = None


def _record(
    step: RevisionStep, buffer: io.StringIO, note: Callable[[RenderedSQL], None]
) -> RevisionStep:
    """``step`` (one of this plan's own), its ``migration_fn`` noting the SQL it wrote to
    ``buffer``, or why it could not."""
    run = step.migration_fn
    revision = step.revision.revision
    direction: Direction = "upgrade" if step.is_upgrade else "downgrade"

    def recorded(**kw: Any) -> None:
        start = buffer.tell()
        try:
            run(**kw)
        except Exception as exc:  # the revision's own error, whatever it is: a finding
            note(RenderedSQL(revision, direction, "", f"{type(exc).__name__}: {exc}"[:MAX_ERROR]))
            return
        note(RenderedSQL(revision, direction, buffer.getvalue()[start:]))

    step.migration_fn = recorded
    return step


def _render(graph: RevisionGraph, plan: Plan, table: VersionTable) -> list[RenderedSQL]:
    if not plan.steps:
        return []
    buffer = io.StringIO()
    rendered: list[RenderedSQL] = []
    steps = [_record(step, buffer, rendered.append) for step in plan.steps]

    def fn(rev: Any, context: MigrationContext) -> list[RevisionStep]:
        return list(steps)

    environment.offline_sql(graph, table, fn, plan.from_revision, plan.destination, buffer=buffer)
    return rendered


def pending_sql(
    graph: RevisionGraph, from_revision: str | None, table: VersionTable
) -> list[RenderedSQL]:
    """The upgrade SQL of every revision from ``from_revision`` to head, in the order they run,
    then their downgrade SQL, head first (the order a revert runs them). InvalidRequest when a
    pending file imports what the function does not ship (as the run would refuse it)."""
    head = graph.head()
    upgrade = make_plan(graph, "upgrade", Revision(head), from_revision)
    if not upgrade.steps:
        return []
    downgrade = make_plan(graph, "downgrade", Revision(from_revision), head)
    return _render(graph, upgrade, table) + _render(graph, downgrade, table)
