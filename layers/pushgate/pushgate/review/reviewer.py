"""The review of a push's pending revisions: render, lint with squawk, judge, enforce.

:meth:`SchemaReviewer.review_graph` reviews what ``run_migrations`` would run: the revisions of
the same project (the same :class:`~pushgate.migrator.Migrator`'s graph, image or bundled) from
the database's revision to head. :meth:`SchemaReviewer.review_rendered` reviews SQL rendered
elsewhere, per revision (a task-runner project renders it in its own image with ``alembic
upgrade {from}:head --sql``), with the same squawk, table and policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pushgate.errors import SchemaChangeRejected
from pushgate.migrator.runner import knows
from pushgate.migrator.scripts import RevisionGraph
from pushgate.review.accept import accepted_in_file
from pushgate.review.render import RenderedSQL, pending_sql
from pushgate.review.squawk import Squawk, SquawkFinding
from pushgate.review.summary import rejection_message
from pushgate.review.verdicts import Accepts, Policy, Review, judge
from pushgate.versiontable import VersionTable


def read_accepts(graph: RevisionGraph, revision: str) -> Accepts:
    """The revision's ``pushgate_accept``, or why it is refused."""
    try:
        return Accepts(accepted_in_file(graph.get(revision).path))
    except ValueError as exc:
        return Accepts(error=str(exc)[:300])


@dataclass(frozen=True)
class SchemaReviewer:
    """squawk, the policy and the version table of one function (build it at cold start)."""

    squawk: Squawk
    policy: Policy
    table: VersionTable

    def review_rendered(
        self,
        rendered: Sequence[RenderedSQL],
        accepts: Mapping[str, Accepts],
        server_version: str | None = None,
    ) -> Review:
        """The review of already-rendered SQL (``accepts``: each revision's pushgate_accept)."""
        version = self.squawk.version()
        files = {f"{index:04d}-{sql.direction}.sql": sql.sql for index, sql in enumerate(rendered)}
        by_file = {name: index for index, name in enumerate(files)}
        found: dict[int, list[SquawkFinding]] = {}
        for row in self.squawk.lint({n: s for n, s in files.items() if s.strip()}, server_version):
            found.setdefault(by_file[row.file], []).append(row)
        return Review(self.policy, judge(rendered, found, accepts), version)

    def review_graph(
        self, graph: RevisionGraph, from_revision: str | None, server_version: str | None = None
    ) -> Review:
        """The review of every revision from ``from_revision`` to the graph's head. A database at
        a revision this project does not know has nothing to review here: "Run migrations"
        decides (an older image over a newer schema, or drift)."""
        if from_revision is not None and not knows(graph, from_revision):
            return Review(self.policy, (), self.squawk.version())
        rendered = pending_sql(graph, from_revision, self.table)
        accepts = {sql.revision: read_accepts(graph, sql.revision) for sql in rendered}
        return self.review_rendered(rendered, accepts, server_version)


def enforce(review: Review) -> None:
    """SchemaChangeRejected when the policy is ``enforce`` and a revision breaks serving."""
    rejected = review.rejected()
    if rejected is not None:
        raise SchemaChangeRejected(rejection_message(rejected))
