"""Schema helpers for the rehearsal, the bench and the tests (never shipped in the layer).

They drive the layer's :class:`~pushgate.migrator.Migrator` with default settings, the way a
developer would: move a database to a revision whichever way it is, read where it is, list a
script directory's revisions.
"""

from __future__ import annotations

from pathlib import Path

from pushgate.database import parse_database_url
from pushgate.migrator import MigrationRequest, MigrationResult, MigrationSettings, Migrator
from pushgate.migrator.scripts import Relative, RevisionGraph
from pushgate.readiness import check_database
from pushgate.versiontable import VersionTable


def head_of(script_location: Path) -> str:
    """The single head revision of an alembic script directory."""
    return RevisionGraph(Path(script_location)).head()


def revisions_of(script_location: Path) -> list[str]:
    """Every revision id of an alembic project, from base to head."""
    return [revision.revision for revision in RevisionGraph(Path(script_location)).base_to_head()]


def current_revision(url: str, table: VersionTable | None = None) -> str | None:
    """The current revision of the database at ``url`` (None: base / no version table)."""
    return check_database(parse_database_url(url), table)["revision"]


def move_to(
    url: str, script_location: Path, target: str, table: VersionTable | None = None
) -> MigrationResult:
    """Upgrade or downgrade (whichever it takes) the database at ``url`` to ``target``."""
    version_table = table or VersionTable()
    migrator = Migrator(
        MigrationSettings(script_location=Path(script_location), version_table=version_table)
    )
    db = parse_database_url(url)
    resolved = migrator.graph.resolve(target)
    if isinstance(resolved, Relative):
        direction = resolved.direction
    else:
        current = check_database(db, version_table)["revision"]
        migrator.graph.check_known(current)
        direction = migrator.graph.direction(current, resolved)
    return migrator.run(MigrationRequest(direction, target), db)
