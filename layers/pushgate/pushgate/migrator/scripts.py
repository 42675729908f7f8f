"""The revision graph of one project, read once per process (cold start), from source.

The graph is alembic's public ``RevisionMap`` over the revisions :mod:`~pushgate.migrator.sources`
reads from the files' source (no file is imported to build it). It answers what a request's
target means (:class:`Revision` or :class:`Relative`), whether one revision is below another,
and which steps lead from the current revision to a destination; only the files of those steps
are imported (alembic's ``MigrationStep`` over a ``Script``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

from alembic.runtime.migration import MigrationStep, RevisionStep
from alembic.script import Script
from alembic.script.revision import Revision as AlembicRevision
from alembic.script.revision import RevisionError, RevisionMap
from alembic.util import CommandError

from pushgate.errors import InvalidRequest, SchemaDrift
from pushgate.migrator.downgrade import has_working_downgrade
from pushgate.migrator.project import MigrationProject, find_project
from pushgate.migrator.request import Direction
from pushgate.migrator.sources import (
    SourceRevision,
    read_revision_file,
    revision_files,
)

_RELATIVE: Final = re.compile(r"^[+-][1-9][0-9]*$")


@dataclass(frozen=True)
class Revision:
    """An absolute target: a revision id, or None for base (below every revision)."""

    id: str | None

    @property
    def destination(self) -> str:
        """The target as alembic names it."""
        return self.id or "base"


@dataclass(frozen=True)
class Relative:
    """A relative target, ``+N`` (up N revisions) or ``-N`` (down N)."""

    destination: str

    @property
    def direction(self) -> Direction:
        return "upgrade" if self.destination.startswith("+") else "downgrade"


Target = Revision | Relative


def _read_all(project: MigrationProject) -> list[SourceRevision]:
    found: list[SourceRevision] = []
    for path in revision_files(project.version_locations, recursive=project.recursive):
        try:
            revision = read_revision_file(path)
        except RevisionError as exc:  # a loop, a bad id: alembic's own words
            raise InvalidRequest(f"the revision file {path} is invalid: {exc}") from exc
        if revision is not None:
            found.append(revision)
    _refuse_dangling(found)
    return found


def _ids(value: str | Iterable[str] | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


def _refuse_dangling(revisions: list[SourceRevision]) -> None:
    """InvalidRequest naming the file of a revision whose down_revision or depends_on names no
    revision (nor branch label) of the project: alembic's RevisionMap only warns, then fails
    with a bare KeyError."""
    known = {name for r in revisions for name in (r.revision, *r.branch_labels)}
    for revision in revisions:
        for field, names in (
            ("down_revision", _ids(revision.down_revision)),
            ("depends_on", _ids(revision.dependencies)),
        ):
            missing = [name for name in names if name not in known]
            if missing:
                raise InvalidRequest(
                    f"the revision file {revision.path} ({revision.revision}) has {field} "
                    f"{', '.join(missing)}, which no revision file of the project declares"
                )


class RevisionGraph:
    """The revisions of the project at ``location`` (:func:`find_project`), parsed once.
    Raises InvalidRequest for a broken project or an unreadable revision file."""

    def __init__(self, location: Path | MigrationProject) -> None:
        self.project = (
            location if isinstance(location, MigrationProject) else find_project(location)
        )
        self.location = self.project.script_location
        self.sources = _read_all(self.project)
        self.map = RevisionMap(lambda: iter(self.sources))
        try:
            self._heads = tuple(self.map.heads)
        except (RevisionError, CommandError) as exc:
            raise InvalidRequest(f"the revisions in {self.location} are broken: {exc}") from exc
        self._downgradable: dict[str, bool] = {}

    def head(self) -> str:
        """The single head revision (InvalidRequest when there is none, or several)."""
        if not self._heads:
            raise InvalidRequest(f"{self.location} has no revisions")
        if len(self._heads) != 1:
            raise InvalidRequest(
                f"{self.location} has {len(self._heads)} heads "
                f"({', '.join(self._heads)}); merge them first"
            )
        return self._heads[0]

    def get(self, revision_id: str) -> SourceRevision:
        """The revision ``revision_id`` (an id or a unique prefix). CommandError when unknown."""
        found = self.map.get_revision(revision_id)
        if not isinstance(found, SourceRevision):
            raise CommandError(f"no such revision {revision_id!r}")
        return found

    def base_to_head(self) -> list[SourceRevision]:
        """Every revision, from base to head(s)."""
        walked = [r for r in self.map.iterate_revisions("heads", "base") if r is not None]
        return [r for r in reversed(walked) if isinstance(r, SourceRevision)]

    def resolve(self, target: str) -> Target:
        """What ``target`` ("head", "base", a revision id or prefix, "+N", "-N") means."""
        if _RELATIVE.match(target):
            return Relative(target)
        if target == "base":
            return Revision(None)
        if target == "head":
            return Revision(self.head())
        try:
            return Revision(self.get(target).revision)
        except (CommandError, RevisionError) as exc:
            raise InvalidRequest(f"unknown target revision {target!r}: {exc}") from exc

    def is_ancestor(self, lower: str | None, upper: str | None) -> bool:
        """Whether ``lower`` is ``upper`` or below it (None is base, below everything)."""
        if lower is None:
            return True
        if upper is None:
            return False
        return any(r.revision == lower for r in self._walk(upper, "base"))

    def _walk(self, upper: str | None, lower: str | None, **kw: bool) -> Iterator[AlembicRevision]:
        for revision in self.map.iterate_revisions(upper, lower, **kw):
            if revision is not None:
                yield revision

    def direction(self, current: str | None, target: Target) -> Direction:
        """Which way ``target`` is from ``current``."""
        if isinstance(target, Relative):
            return target.direction
        return "upgrade" if self.is_ancestor(current, target.id) else "downgrade"

    def check_known(self, current: str | None) -> None:
        """SchemaDrift when the database is at a revision this project does not know."""
        if current is None:
            return
        try:
            self.get(current)
        except (CommandError, RevisionError) as exc:
            raise SchemaDrift(
                f"the database is at {current}, a revision this script directory does not know "
                "(a newer release migrated it?); nothing done"
            ) from exc

    def pending(
        self, direction: Direction, destination: str, current: str | None
    ) -> list[SourceRevision]:
        """The revisions from ``current`` to ``destination``, in the order they run (the ones
        alembic's ``command.upgrade``/``downgrade`` would run). Raises InvalidRequest."""
        revisions: Iterable[AlembicRevision]
        try:
            if direction == "upgrade":
                upward = self._walk(destination, current or "base", implicit_base=True)
                revisions = reversed(list(upward))
            else:
                revisions = list(self._walk(current, destination, select_for_downgrade=True))
        except (RevisionError, CommandError) as exc:
            raise InvalidRequest(
                f"cannot {direction} to {destination} from {current or 'base'}: {exc}"
            ) from exc
        return [r for r in revisions if isinstance(r, SourceRevision)]

    def steps(self, direction: Direction, revisions: list[SourceRevision]) -> list[RevisionStep]:
        """alembic's steps for ``revisions``: each file is imported now, and only these
        (InvalidRequest, before anything runs, when one imports what the function lacks or has
        no function for ``direction``)."""
        for revision in revisions:
            revision.refuse_unshipped()  # every file checked before any is imported
        for revision in revisions:
            revision.load()
            if not callable(getattr(revision.module, direction, None)):  # alembic's AttributeError
                raise InvalidRequest(
                    f"revision {revision.revision} ({revision.path.name}) has no {direction}() "
                    "function; nothing was run"
                )
        step = (
            MigrationStep.upgrade_from_script
            if direction == "upgrade"
            else MigrationStep.downgrade_from_script
        )
        # alembic types it as a Script; a loaded SourceRevision has all RevisionStep reads
        return [step(self.map, cast(Script, revision)) for revision in revisions]

    def downgradable(self, revision: SourceRevision) -> bool:
        """:func:`has_working_downgrade`, cached per revision for the process."""
        if revision.revision not in self._downgradable:
            self._downgradable[revision.revision] = has_working_downgrade(revision)
        return self._downgradable[revision.revision]
