"""The revision graph of one alembic script directory, read once per process (cold start).

It answers what a request's target means (:class:`Revision` or :class:`Relative`), whether one
revision is below another, and which steps lead from the current revision to a destination,
with alembic's public ``ScriptDirectory.iterate_revisions`` and ``MigrationStep``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from alembic.config import Config
from alembic.runtime.migration import MigrationStep, RevisionStep
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from pushgate.errors import InvalidRequest, SchemaDrift
from pushgate.migrator.downgrade import has_working_downgrade
from pushgate.migrator.request import Direction

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


class RevisionGraph:
    """The alembic ``Config`` and ``ScriptDirectory`` of ``script_location`` (every revision file
    parsed once, here). Raises InvalidRequest for a broken directory or an unloadable file."""

    def __init__(self, script_location: Path) -> None:
        self.location = script_location
        self.config = Config()
        self.config.set_main_option("script_location", str(script_location))
        # offline SQL (plan) needs a dialect, never credentials
        self.config.set_main_option("sqlalchemy.url", "postgresql+pg8000://")
        try:
            self.script = ScriptDirectory.from_config(self.config)
            self._heads = tuple(self.script.get_heads())  # parses every revision file, once
        except CommandError as exc:
            raise InvalidRequest(
                f"the alembic script directory {script_location} is broken: {exc}"
            ) from exc
        except Exception as exc:  # a revision file that cannot be imported: its own error
            raise InvalidRequest(
                f"a revision file in {script_location} cannot be loaded: "
                f"{type(exc).__name__}: {exc} (revision files must import only what the "
                "function ships: alembic, SQLAlchemy, and the standard library)"
            ) from exc
        self._downgradable: dict[str, bool] = {}

    def head(self) -> str:
        """The single head revision (InvalidRequest when there is none, or several)."""
        if not self._heads:
            raise InvalidRequest(f"{self.location}/versions has no revisions")
        if len(self._heads) != 1:
            raise InvalidRequest(
                f"{self.location} has {len(self._heads)} heads "
                f"({', '.join(self._heads)}); merge them first"
            )
        return self._heads[0]

    def resolve(self, target: str) -> Target:
        """What ``target`` ("head", "base", a revision id or prefix, "+N", "-N") means."""
        if _RELATIVE.match(target):
            return Relative(target)
        if target == "base":
            return Revision(None)
        if target == "head":
            return Revision(self.head())
        try:
            script = self.script.get_revision(target)
        except CommandError as exc:
            raise InvalidRequest(f"unknown target revision {target!r}: {exc}") from exc
        if script is None:
            raise InvalidRequest(f"unknown target revision {target!r}")
        return Revision(script.revision)

    def is_ancestor(self, lower: str | None, upper: str | None) -> bool:
        """Whether ``lower`` is ``upper`` or below it (None is base, below everything)."""
        if lower is None:
            return True
        if upper is None:
            return False
        return any(s.revision == lower for s in self.script.iterate_revisions(upper, "base"))

    def direction(self, current: str | None, target: Target) -> Direction:
        """Which way ``target`` is from ``current``."""
        if isinstance(target, Relative):
            return target.direction
        return "upgrade" if self.is_ancestor(current, target.id) else "downgrade"

    def check_known(self, current: str | None) -> None:
        """SchemaDrift when the database is at a revision this directory does not know."""
        if current is None:
            return
        try:
            self.script.get_revision(current)
        except CommandError as exc:
            raise SchemaDrift(
                f"the database is at {current}, a revision this script directory does not know "
                "(a newer release migrated it?); nothing done"
            ) from exc

    def steps(
        self, direction: Direction, destination: str, current: str | None
    ) -> list[RevisionStep]:
        """The steps from ``current`` to ``destination``, in the order they run (the ones
        alembic's ``command.upgrade``/``downgrade`` would run). Raises InvalidRequest."""
        revisions: Iterable[Script]
        step: Callable[..., RevisionStep]
        try:
            if direction == "upgrade":
                upward = self.script.iterate_revisions(
                    destination, current or "base", implicit_base=True
                )
                revisions, step = reversed(list(upward)), MigrationStep.upgrade_from_script
            else:
                downward = self.script.iterate_revisions(
                    current, destination, select_for_downgrade=True
                )
                revisions, step = list(downward), MigrationStep.downgrade_from_script
        except (RevisionError, CommandError) as exc:
            raise InvalidRequest(
                f"cannot {direction} to {destination} from {current or 'base'}: {exc}"
            ) from exc
        return [step(self.script.revision_map, script) for script in revisions]

    def downgradable(self, script: Script) -> bool:
        """:func:`has_working_downgrade`, cached per revision for the process."""
        if script.revision not in self._downgradable:
            self._downgradable[script.revision] = has_working_downgrade(script)
        return self._downgradable[script.revision]
