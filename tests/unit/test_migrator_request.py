"""run_migrations requests and settings: parsing and validation (no database needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pushgate import settings
from pushgate.errors import InvalidRequest
from pushgate.migrator import (
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_LOCK_WAIT_SECONDS,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    MIGRATION_LOCK_KEY,
    MigrationRequest,
    MigrationSettings,
    Migrator,
    has_working_downgrade,
)
from pushgate.migrator.sources import SourceRevision, read_revision_file
from pushgate.versiontable import VersionTable
from pushgate_cli.schema import head_of, revisions_of

from tests.helpers import CHAIN, MIGRATIONS, load_event

pytestmark = pytest.mark.unit


def test_upgrade_defaults_to_head() -> None:
    assert MigrationRequest.from_event({"action": "upgrade"}) == MigrationRequest("upgrade", "head")


def test_sample_events_parse() -> None:
    """GIVEN the sample events WHEN parsed THEN action, target and guard are kept."""
    assert MigrationRequest.from_event(load_event("run_migrations_rollback")) == MigrationRequest(
        "downgrade", "8b2e4d6f1a03", "c47a91e2b5d8"
    )
    assert MigrationRequest.from_event(load_event("run_migrations_plan")).action == "plan"
    assert MigrationRequest.from_event(load_event("run_migrations_downgrade_one")).target == "-1"


def test_a_downgrade_to_a_null_target_goes_to_base_and_one_without_a_target_is_refused() -> None:
    # GIVEN the rollback of a run that started on a database with no revision: the definition
    # passes its from_revision, null, as the target
    rollback = {"action": "downgrade", "target": None, "expected_current": CHAIN[-1]}
    # WHEN it is parsed THEN it asks for base, guarded by the revision the run left
    assert MigrationRequest.from_event(rollback) == MigrationRequest("downgrade", "base", CHAIN[-1])
    # AND a downgrade that names no target at all is refused, not taken to mean base
    with pytest.raises(InvalidRequest):
        MigrationRequest.from_event({"action": "downgrade", "expected_current": CHAIN[-1]})


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {"action": "UPGRADE"},
        {"action": "downgrade"},
        {"action": "upgrade", "target": "  "},
        {"action": "upgrade", "expected_current": 7},
    ],
)
def test_malformed_requests(event: Any) -> None:
    with pytest.raises(InvalidRequest):
        MigrationRequest.from_event(event)


def test_settings_defaults_and_overrides(tmp_path: Path) -> None:
    """GIVEN no tunables THEN the documented defaults; GIVEN MIGRATIONS_DIR and tunables THEN
    they win."""
    defaults = MigrationSettings.from_env(MIGRATIONS, {})
    custom_dir = tmp_path / "scripts"
    custom = MigrationSettings.from_env(
        MIGRATIONS,
        {
            settings.MIGRATIONS_DIR: str(custom_dir),
            settings.MIGRATION_LOCK_TIMEOUT_MS: "250",
            settings.MIGRATION_STATEMENT_TIMEOUT_MS: "9000",
            settings.MIGRATION_LOCK_WAIT_SECONDS: "2.5",
            settings.VERSION_TABLE: "schema_version",
            settings.VERSION_TABLE_SCHEMA: "meta",
            settings.MIGRATION_SEARCH_PATH: "tenant, public",
        },
    )

    assert (
        defaults.script_location,
        defaults.lock_timeout_ms,
        defaults.statement_timeout_ms,
        defaults.lock_wait_seconds,
    ) == (
        MIGRATIONS,
        DEFAULT_LOCK_TIMEOUT_MS,
        DEFAULT_STATEMENT_TIMEOUT_MS,
        DEFAULT_LOCK_WAIT_SECONDS,
    )
    assert (custom.script_location, custom.lock_timeout_ms) == (custom_dir, 250)
    assert (custom.statement_timeout_ms, custom.lock_wait_seconds) == (9000, 2.5)
    assert defaults.version_table == VersionTable(name="alembic_version", schema=None)
    assert custom.version_table == VersionTable(
        name="schema_version", schema="meta", search_path=("tenant", "public")
    )
    assert custom.version_table.qualified == '"meta"."schema_version"'


@pytest.mark.parametrize(
    "env",
    [
        {settings.MIGRATION_LOCK_TIMEOUT_MS: "soon"},
        {settings.VERSION_TABLE: "alembic_version; DROP TABLE users"},
        {settings.VERSION_TABLE_SCHEMA: "1st"},
        {settings.MIGRATION_SEARCH_PATH: "public,"},
        {settings.MIGRATION_STATEMENT_TIMEOUT_MS: "0"},
        {settings.MIGRATION_LOCK_WAIT_SECONDS: "-1"},
    ],
)
def test_bad_settings(env: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        MigrationSettings.from_env(MIGRATIONS, env)


def test_a_missing_project_is_refused_at_cold_start() -> None:
    """GIVEN MIGRATIONS_DIR naming no directory WHEN the migrator is built THEN InvalidRequest."""
    with pytest.raises(InvalidRequest):
        Migrator(MigrationSettings.from_env(MIGRATIONS, {settings.MIGRATIONS_DIR: "/nonexistent"}))


def test_lock_key_fits_a_bigint_and_the_chain_is_linear() -> None:
    """GIVEN the bundled scripts WHEN loaded THEN one linear chain of three revisions, and the
    advisory-lock key is a valid PostgreSQL bigint."""
    migrator = Migrator(MigrationSettings.from_env(MIGRATIONS, {}))

    assert -(2**63) <= MIGRATION_LOCK_KEY < 2**63
    assert migrator.graph.head() == CHAIN[-1]
    assert revisions_of(MIGRATIONS) == CHAIN
    assert head_of(MIGRATIONS) == CHAIN[-1]


def _revision(directory: Path, source: str) -> SourceRevision:
    """A revision file whose functions are ``source``, read as the graph reads it."""
    path = directory / "revision_under_test.py"
    path.write_text('revision = "abc"\ndown_revision = None\n' + source)
    revision = read_revision_file(path)
    assert revision is not None
    return revision


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "def upgrade():\n    op()\ndef downgrade():\n    op()\n", True, id="undoes-its-work"
        ),
        pytest.param(
            "def upgrade():\n    op()\ndef downgrade():\n    raise NotImplementedError\n",
            False,
            id="raises",
        ),
        pytest.param(
            "def upgrade():\n    op()\ndef downgrade():\n    pass\n", False, id="empty-downgrade"
        ),
        pytest.param(
            "def upgrade():\n    pass\ndef downgrade():\n    pass\n", True, id="nothing-to-undo"
        ),
        pytest.param("def upgrade():\n    op()\n", False, id="no-downgrade"),
    ],
)
def test_working_downgrade_detection(tmp_path: Path, source: str, expected: bool) -> None:
    """GIVEN a revision WHEN the plan asks whether it can be undone THEN only a downgrade that
    exists, does not just raise and undoes a non-empty upgrade counts."""
    assert has_working_downgrade(_revision(tmp_path, source)) is expected
