"""Real alembic projects, as people write them, run unchanged by pushgate's own environment
(a real PostgreSQL; the projects are under tests/projects/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pushgate.database import parse_database_url
from pushgate.errors import InvalidRequest, MigrationFailed
from pushgate.migrator import MigrationRequest, MigrationSettings, Migrator
from pushgate.readiness import check_database
from pushgate.versiontable import VersionTable

from tests.helpers import columns, query, tables

pytestmark = pytest.mark.integration

PROJECTS = Path(__file__).resolve().parents[1] / "projects"


def _migrator(location: Path, table: VersionTable | None = None) -> Migrator:
    return Migrator(
        MigrationSettings(script_location=location, version_table=table or VersionTable())
    )


def _upgrade(location: Path, url: str, table: VersionTable | None = None) -> list[str]:
    result = _migrator(location, table).run(
        MigrationRequest("upgrade", "head"), parse_database_url(url)
    )
    return result["applied"]


@pytest.mark.parametrize(
    ("project", "chain"),
    [
        pytest.param("stock_init", ["stoc0001", "stoc0002"], id="stock-alembic-init"),
        pytest.param("async_env", ["asyn0001", "asyn0002"], id="async-env-py"),
        pytest.param("pyproject_config", ["pypr0001", "pypr0002"], id="pyproject-toml"),
    ],
)
def test_a_project_root_runs_unchanged(project: str, chain: list[str], database_url: str) -> None:
    """GIVEN a project root as `alembic init` makes it (stock, async, pyproject) WHEN upgraded
    and downgraded THEN every revision runs, its env.py (which would build its own engine from a
    placeholder sqlalchemy.url) never runs, and the database ends where asked."""
    applied = _upgrade(PROJECTS / project, database_url)

    assert applied == chain
    assert {"email", "name"} <= columns(database_url, "accounts")
    assert check_database(parse_database_url(database_url))["revision"] == chain[-1]
    down = _migrator(PROJECTS / project).run(
        MigrationRequest("downgrade", "base"), parse_database_url(database_url)
    )
    assert down["applied"] == list(reversed(chain))
    assert "accounts" not in tables(database_url)


def test_an_env_py_that_imports_the_app_runs_with_its_version_table(database_url: str) -> None:
    """GIVEN an env.py importing the service's package (not installed here) for its settings and
    models, with version_table="shopapp_version" WHEN upgraded with VersionTable set to it THEN
    the revisions run, the row is in that table, and check_database reads it there."""
    table = VersionTable(name="shopapp_version")

    assert _upgrade(PROJECTS / "app_env", database_url, table) == ["appe0001", "appe0002"]
    assert query(database_url, "SELECT version_num FROM shopapp_version") == [["appe0002"]]
    assert "alembic_version" not in tables(database_url)
    assert check_database(parse_database_url(database_url), table)["revision"] == "appe0002"


def test_version_table_in_its_schema_and_a_search_path(database_url: str, tmp_path: Path) -> None:
    """GIVEN a schema-qualified version table and a search_path WHEN upgraded THEN the row is in
    meta.schema_version, the tables are created in the search_path's first schema, and
    check_database reads the same table."""
    query(database_url, "CREATE SCHEMA meta")
    query(database_url, "CREATE SCHEMA shop")
    table = VersionTable(name="schema_version", schema="meta", search_path=("shop", "public"))

    assert _upgrade(PROJECTS / "stock_init", database_url, table) == ["stoc0001", "stoc0002"]
    assert query(database_url, "SELECT version_num FROM meta.schema_version") == [["stoc0002"]]
    assert query(database_url, "SELECT to_regclass('shop.accounts') IS NOT NULL") == [[True]]
    assert check_database(parse_database_url(database_url), table)["revision"] == "stoc0002"
    assert check_database(parse_database_url(database_url))["revision"] is None


def test_a_concurrently_index_in_an_autocommit_block(database_url: str) -> None:
    """GIVEN a bare script directory (versions/ only) whose revision builds an index
    CONCURRENTLY in autocommit_block() WHEN upgraded, then downgraded THEN the index is built
    (valid) outside any transaction, and dropped again."""
    location = PROJECTS / "concurrently"

    assert _upgrade(location, database_url) == ["conc0001", "conc0002", "conc0003"]
    assert query(
        database_url,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_events_kind'::regclass",
    ) == [[True]]
    _migrator(location).run(MigrationRequest("downgrade", "base"), parse_database_url(database_url))
    assert "events" not in tables(database_url)


def _copy(project: str, tmp_path: Path) -> Path:
    target = tmp_path / project
    shutil.copytree(PROJECTS / project, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_a_failure_after_an_autocommit_block_says_where_the_database_is(
    database_url: str, tmp_path: Path
) -> None:
    """GIVEN a revision after the CONCURRENTLY one that fails WHEN upgraded from base THEN each
    revision was its own transaction (the run has an autocommit block), so the error says the
    database is at the last revision that completed (re-read), not at from_revision, and the
    version table agrees: the compensation can bring it back."""
    location = _copy("concurrently", tmp_path)
    (location / "versions" / "conc0004_fails.py").write_text(
        'revision = "conc0004"\ndown_revision = "conc0003"\n'
        "from alembic import op\n\n"
        "def upgrade():\n    op.execute('SELECT 1 / 0')\n\n"
        "def downgrade():\n    pass\n"
    )

    with pytest.raises(MigrationFailed) as failed:
        _upgrade(location, database_url)

    assert "the database is at conc0003" in str(failed.value)
    assert "not at from_revision base" in str(failed.value)
    assert query(database_url, "SELECT version_num FROM alembic_version") == [["conc0003"]]
    assert "events" in tables(database_url)  # committed before the block: really there


def test_a_failed_concurrently_build_leaves_no_invalid_index(
    database_url: str, tmp_path: Path
) -> None:
    """GIVEN duplicate values and a UNIQUE index built CONCURRENTLY WHEN the build fails THEN
    no INVALID index is left behind, and the error says what was committed."""
    location = _copy("concurrently", tmp_path)
    _upgrade(location, database_url)
    query(database_url, "INSERT INTO events (id, kind) VALUES (1, 'a'), (2, 'a')")
    (location / "versions" / "conc0004_unique.py").write_text(
        'revision = "conc0004"\ndown_revision = "conc0003"\n'
        "from alembic import op\n\n"
        "def upgrade():\n"
        "    with op.get_context().autocommit_block():\n"
        "        op.create_index('ux_events_kind', 'events', ['kind'], unique=True,"
        " postgresql_concurrently=True)\n\n"
        "def downgrade():\n    pass\n"
    )

    with pytest.raises(MigrationFailed) as failed:
        _upgrade(location, database_url)

    assert query(database_url, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == [[0]]
    assert '"public"."ux_events_kind"' in str(failed.value)
    assert query(database_url, "SELECT version_num FROM alembic_version") == [["conc0003"]]


def test_a_revision_importing_the_service_is_refused_before_anything_runs(
    database_url: str, tmp_path: Path
) -> None:
    """GIVEN a pending revision that imports the service's own code WHEN upgraded THEN
    InvalidRequest names the file and the module and points at the task runner, and not even
    the revisions before it ran."""
    location = _copy("stock_init", tmp_path)
    (location / "migrations" / "versions" / "stoc0003_models.py").write_text(
        'revision = "stoc0003"\ndown_revision = "stoc0002"\n'
        "from shopapp.models import Base\n\ndef upgrade():\n    pass\n"
    )

    with pytest.raises(InvalidRequest) as refused:
        _upgrade(location, database_url)

    message = str(refused.value)
    assert "stoc0003_models.py" in message
    assert "shopapp.models" in message
    assert "MigrationRunner=task" in message
    assert "accounts" not in tables(database_url)


def test_an_unloadable_old_revision_does_not_block(database_url: str, tmp_path: Path) -> None:
    """GIVEN a database at stoc0001 and that old revision now importing a module nobody ships
    WHEN upgraded THEN only the pending revision is loaded and run: the old one is never
    imported."""
    location = _copy("stock_init", tmp_path)
    _migrator(location).run(
        MigrationRequest("upgrade", "stoc0001"), parse_database_url(database_url)
    )
    old = location / "migrations" / "versions" / "stoc0001_create_accounts.py"
    old.write_text(
        old.read_text().replace(
            "import sqlalchemy as sa", "import sqlalchemy as sa\nimport gone_module"
        )
    )

    assert _upgrade(location, database_url) == ["stoc0002"]


def test_an_unreadable_revision_file_blocks_and_says_so(tmp_path: Path) -> None:
    """GIVEN a revision file with a syntax error WHEN the project is loaded THEN InvalidRequest
    says it blocks every run, even as an old, applied revision."""
    location = _copy("stock_init", tmp_path)
    (location / "migrations" / "versions" / "stoc0001_create_accounts.py").write_text(
        "revision = ("
    )

    with pytest.raises(InvalidRequest) as refused:
        _migrator(location)

    assert "blocks every run" in str(refused.value)


def test_a_missing_extension_says_so(database_url: str, tmp_path: Path) -> None:
    """GIVEN a revision creating an extension the embedded server lacks WHEN upgraded THEN the
    error says the server does not have it (checked in pg_available_extensions)."""
    location = tmp_path / "scripts"
    (location / "versions").mkdir(parents=True)
    (location / "versions" / "ext0001_uuid.py").write_text(
        'revision = "ext0001"\ndown_revision = None\n'
        "from alembic import op\n\n"
        "def upgrade():\n    op.execute('CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\"')\n"
    )
    available = query(
        database_url, "SELECT count(*) FROM pg_available_extensions WHERE name = 'uuid-ossp'"
    )
    if available != [[0]]:
        pytest.skip("this server has uuid-ossp")

    with pytest.raises(MigrationFailed) as failed:
        _upgrade(location, database_url)

    assert "does not have the extension 'uuid-ossp'" in str(failed.value)
