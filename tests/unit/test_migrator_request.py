"""run_migrations requests and settings: parsing and validation (no database needed)."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path
from typing import Any, cast

import pytest
from alembic.script import Script
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
    assert migrator.graph.head() == CHAIN[-1]
    assert revisions_of(MIGRATIONS) == CHAIN
    assert head_of(MIGRATIONS) == CHAIN[-1]


def _revision(directory: Path, source: str, *, keep_source: bool = True) -> Script:
    """A revision script whose module is ``source`` (its .py removed after loading, if asked)."""
    path = directory / "revision_under_test.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("revision_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not keep_source:
        path.unlink()
    return cast(Script, types.SimpleNamespace(module=module))


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


def test_unreadable_source_gets_the_benefit_of_the_doubt(tmp_path: Path) -> None:
    """GIVEN a revision whose source cannot be read (shipped without .py) WHEN planned THEN it
    is not reported as lacking a downgrade: alembic would run it."""
    source = "def upgrade():\n    op()\ndef downgrade():\n    op()\n"
    revision = _revision(tmp_path, source, keep_source=False)

    assert has_working_downgrade(revision) is True
