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
)
from pushgate_cli.handlers import REPO_ROOT

from tests.helpers import load_event

pytestmark = pytest.mark.unit

MIGRATIONS = REPO_ROOT / "migrations"


def test_upgrade_defaults_to_head() -> None:
    assert MigrationRequest.from_event({"action": "upgrade"}) == MigrationRequest("upgrade", "head")


def test_sample_events_parse() -> None:
    """GIVEN the sample events WHEN parsed THEN action, target and guard are kept."""
    assert MigrationRequest.from_event(load_event("run_migrations_rollback")) == MigrationRequest(
        "downgrade", "8b2e4d6f1a03", "c47a91e2b5d8"
    )
    assert MigrationRequest.from_event(load_event("run_migrations_plan")).action == "plan"
    assert MigrationRequest.from_event(load_event("run_migrations_downgrade_one")).target == "-1"


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
    custom_dir.mkdir()
    (custom_dir / "env.py").write_text("")
    custom = MigrationSettings.from_env(
        MIGRATIONS,
        {
            settings.MIGRATIONS_DIR: str(custom_dir),
            settings.MIGRATION_LOCK_TIMEOUT_MS: "250",
            settings.MIGRATION_STATEMENT_TIMEOUT_MS: "9000",
            settings.MIGRATION_LOCK_WAIT_SECONDS: "2.5",
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


@pytest.mark.parametrize(
    "env",
    [
        {settings.MIGRATIONS_DIR: "/nonexistent/scripts"},
        {settings.MIGRATION_LOCK_TIMEOUT_MS: "soon"},
        {settings.MIGRATION_STATEMENT_TIMEOUT_MS: "0"},
        {settings.MIGRATION_LOCK_WAIT_SECONDS: "-1"},
    ],
)
def test_bad_settings(env: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        MigrationSettings.from_env(MIGRATIONS, env)


def test_lock_key_fits_a_bigint_and_the_chain_is_linear() -> None:
    """GIVEN the bundled scripts WHEN loaded THEN one linear chain of three revisions, and the
    advisory-lock key is a valid PostgreSQL bigint."""
    migrator = Migrator(MigrationSettings.from_env(MIGRATIONS, {}))

    assert -(2**63) <= MIGRATION_LOCK_KEY < 2**63
    assert migrator.revision_chain() == ["3f1c9a2b7d10", "8b2e4d6f1a03", "c47a91e2b5d8"]
