"""pushgate's own alembic environment: revisions run here, never in the project's env.py.

A project's env.py builds its own engine, imports the service's models, needs a Flask app or
is async: none of that can run in the migration function, and none of it is needed to run a
revision. pushgate therefore drives alembic's public runtime itself, as env.py would:
``EnvironmentContext`` (so ``from alembic import context`` and ``op`` work in revisions) is
entered with the plan's steps (``fn``), ``configure()``d with pushgate's connection and version
table (:class:`~pushgate.versiontable.VersionTable`), and its ``begin_transaction()`` /
``run_migrations()`` run them in one transaction: the one the version-table row moves in, which
an ``autocommit_block()`` may commit early (:mod:`~pushgate.migrator.autocommit`).

alembic's ``EnvironmentContext`` wants a ``ScriptDirectory``; it asks it only for revisions by
id (offline mode's starting revision, ``get_head_revision()``). pushgate's
:class:`_Scripts` answers from the source-read graph, so no file is imported to answer it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any, cast

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from pushgate.migrator.scripts import RevisionGraph
from pushgate.versiontable import VersionTable

StepsFn = Callable[[Any, MigrationContext], Iterable[RevisionStep]]


class _Scripts:
    """What ``EnvironmentContext`` asks of a ``ScriptDirectory``, answered from the graph."""

    def __init__(self, graph: RevisionGraph) -> None:
        self._graph = graph

    def get_revision(self, revision_id: str) -> Any:
        return self._graph.get(revision_id)

    def as_revision_number(self, name: str) -> str | None:
        if name in ("head", "heads"):
            return self._graph.head()
        return None if name == "base" else self._graph.get(name).revision


def _environment(graph: RevisionGraph, fn: StepsFn, **options: Any) -> EnvironmentContext:
    return EnvironmentContext(Config(), cast(ScriptDirectory, _Scripts(graph)), fn=fn, **options)


def _table_options(table: VersionTable) -> dict[str, Any]:
    return {"version_table": table.name, "version_table_schema": table.schema}


def run_online(
    conn: Connection,
    graph: RevisionGraph,
    table: VersionTable,
    fn: StepsFn,
    destination: str,
    before_commit: Callable[[], None],
    *,
    per_revision: bool = False,
) -> None:
    """Run ``fn``'s steps on ``conn`` (not in a transaction yet) in one transaction, calling
    ``before_commit`` inside it after the last step (a failure there rolls it all back).
    ``per_revision``: each revision in its own transaction with its version stamp (a run with
    an autocommit block: what a block commits is then never ahead of the version table by more
    than the revision it is in)."""
    with _environment(graph, fn, destination_rev=destination) as env:
        env.configure(
            connection=conn,
            transactional_ddl=True,
            transaction_per_migration=per_revision,
            target_metadata=None,
            **_table_options(table),
        )
        with env.begin_transaction():
            env.run_migrations()
            before_commit()


def offline_sql(
    graph: RevisionGraph,
    table: VersionTable,
    fn: StepsFn,
    starting_rev: str | None,
    destination: str,
    *,
    buffer: io.StringIO | None = None,
) -> str:
    """The SQL ``fn``'s steps would run (alembic's offline mode: no database needed), written
    to ``buffer`` (a new one by default: a caller that passes its own can note where each
    step's SQL starts and ends, as :mod:`pushgate.review.render` does)."""
    buffer = io.StringIO() if buffer is None else buffer
    with _environment(
        graph,
        fn,
        as_sql=True,
        starting_rev=starting_rev,
        destination_rev=destination,
        output_buffer=buffer,
    ) as env:
        env.configure(
            dialect_name="postgresql",
            literal_binds=True,
            transactional_ddl=True,
            target_metadata=None,
            output_buffer=buffer,
            **_table_options(table),
        )
        with env.begin_transaction():
            env.run_migrations()
    return buffer.getvalue()


def read_current_heads(conn: Connection, table: VersionTable) -> tuple[str, ...]:
    """The revisions in the version table (empty: base, or no table yet)."""
    context = MigrationContext.configure(conn, opts=_table_options(table))
    return tuple(context.get_current_heads())
