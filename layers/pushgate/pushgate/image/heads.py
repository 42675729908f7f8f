"""Alembic heads of a project read out of an image, without importing a line of it.

The image reader calls a :data:`ProjectCheck` on every project it extracts, before caching it.
The default, :func:`refuse_multiple_heads`, finds each alembic script directory (a directory
with ``env.py`` and ``versions/``) and reads the ``revision`` and ``down_revision`` of its
revision files with :mod:`ast`: a revision that no other names as its down revision is a head.
More than one head is InvalidImage naming them (alembic would refuse ``upgrade head`` anyway,
after the deployment lock is taken; here it is refused before).

The hook exists so that pushgate's own revision graph (issue 8: alembic.ini / pyproject
discovery) can replace the small parse below once it lands.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pushgate.errors import InvalidImage, InvalidRequest

ProjectCheck = Callable[[Path], None]  # raises InvalidImage when the project is refused


@dataclass(frozen=True)
class Revision:
    """One revision file's identity: its id and the ids it revises."""

    revision: str
    down_revisions: tuple[str, ...]
    path: Path


def refuse_multiple_heads(project: Path) -> None:
    """InvalidImage when any script directory under ``project`` has more than one head."""
    for script_dir in script_directories(project):
        found = heads(script_dir)
        if len(found) > 1:
            shown = script_dir.relative_to(project).as_posix()
            raise InvalidImage(
                f"the alembic scripts in {shown} have {len(found)} heads: {', '.join(found)}; "
                "merge them (alembic merge heads) before pushing"
            )


def script_directories(project: Path) -> Iterator[Path]:
    """Each directory under ``project`` with an ``env.py`` file and a ``versions`` directory."""
    for directory, dirs, files in os.walk(project):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        if "env.py" in files and "versions" in dirs:
            yield Path(directory)


def heads(script_dir: Path) -> list[str]:
    """The revisions of ``script_dir/versions`` that no other revises, sorted."""
    revisions = list(read_revisions(script_dir / "versions"))
    revised = {down for r in revisions for down in r.down_revisions}
    return sorted(r.revision for r in revisions if r.revision not in revised)


def read_revisions(versions: Path) -> Iterator[Revision]:
    """Every ``*.py`` below ``versions`` that assigns a string ``revision``."""
    for path in sorted(versions.rglob("*.py")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        revision = parse_revision(path)
        if revision is not None:
            yield revision


def parse_revision(path: Path) -> Revision | None:
    """``revision``/``down_revision`` as the migrator reads them (pushgate.migrator.sources:
    the module's literal assignments, never executed); an unreadable file is InvalidImage."""
    from pushgate.migrator.sources import read_revision_file

    try:
        found = read_revision_file(path)
    except InvalidRequest as exc:
        raise InvalidImage(str(exc)) from None
    if found is None:
        return None
    down = found.down_revision
    downs = (down,) if isinstance(down, str) else tuple(down or ())
    return Revision(found.revision, downs, path)
