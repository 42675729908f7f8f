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
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from alembic.runtime.migration import MigrationContext, RevisionStep

from pushgate.migrator import environment
from pushgate.migrator.plan import Plan, make_plan
from pushgate.migrator.request import Direction
from pushgate.migrator.scripts import Revision, RevisionGraph
from pushgate.versiontable import VersionTable

MAX_ERROR = 300  # a render error's words, as a finding quotes them
_RUNNING: Final = re.compile(r"^-- Running (upgrade|downgrade) (.*?) -> (.*?)\s*$", re.MULTILINE)


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


def split_offline_sql(text: str, table: VersionTable) -> list[RenderedSQL]:
    """``alembic upgrade {from}:head --sql``'s output (one run of several revisions, as a
    task-runner project renders it in its own image: issue 10), cut per revision at alembic's
    ``-- Running upgrade a -> b`` lines into what :func:`pending_sql` gives: without the run's
    BEGIN/COMMIT and without ``table``'s version statements, ready for
    :meth:`~pushgate.review.reviewer.SchemaReviewer.review_rendered`."""
    name = rf'(?:\S+\.)?"?{re.escape(table.name)}"?'
    stamp = re.compile(
        rf"^(?:UPDATE|INSERT INTO|DELETE FROM|CREATE TABLE) {name}[ (\n][^;]*;\n*", re.MULTILINE
    )
    marks = list(_RUNNING.finditer(text))
    rendered = []
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        body = text[mark.end() : after.start() if after else len(text)]
        if after is None:  # the run's own COMMIT
            body = re.sub(r"\n\s*COMMIT;\s*$", "\n", body)
        body = stamp.sub("", body).strip("\n")
        direction: Direction = "upgrade" if mark.group(1) == "upgrade" else "downgrade"
        revision = mark.group(3) if direction == "upgrade" else mark.group(2)
        rendered.append(RenderedSQL(revision.strip(), direction, f"{body}\n\n" if body else ""))
    return rendered
