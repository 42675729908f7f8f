"""`pushgate rehearse --migrations` on real alembic projects, unchanged (tests/projects/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pushgate_cli.main import EXIT_OK, EXIT_UNEXPECTED, main
from pushgate_cli.rehearse import RehearsalConfig, rehearse
from pushgate_cli.scenarios import SCENARIOS

from tests.helpers import HEAD, query, revision

pytestmark = pytest.mark.statemachine

PROJECTS = Path(__file__).resolve().parents[1] / "projects"
DEBIAN_PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.mark.parametrize(
    ("project", "head"),
    [
        pytest.param("stock_init", "stoc0002", id="stock-alembic-init"),
        pytest.param("async_env", "asyn0002", id="async-env-py"),
        pytest.param("pyproject_config", "pypr0002", id="pyproject-toml"),
        pytest.param("concurrently", "conc0003", id="bare-dir-concurrently"),
        pytest.param("stock_init/migrations", "stoc0002", id="script-dir-of-a-project"),
    ],
)
def test_a_real_project_rehearses_unchanged(
    project: str, head: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a project as its authors wrote it WHEN rehearsed healthy on the embedded database
    THEN the run succeeds and the database ends at the project's head."""
    code = main(["rehearse", "--migrations", str(PROJECTS / project), "--json"])

    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK, out
    assert out["status"] == "succeeded"
    assert out["revision_after"] == head


def test_an_app_env_py_rehearses_with_its_version_table() -> None:
    """GIVEN an env.py that imports the app, builds its own engine and names version_table
    WHEN rehearsed with the VersionTable parameter set to it, unhealthy THEN it is migrated and
    rolled back in that table."""
    result = rehearse(
        RehearsalConfig(
            migrations_dir=PROJECTS / "app_env",
            parameters={"VersionTable": "shopapp_version"},
            scenario=SCENARIOS["unhealthy"],
        )
    )

    assert result.status == "rolled_back"
    assert result.revision_before == result.revision_after == "appe0001"


def test_a_database_url_is_left_where_it_is(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a user's database at head WHEN rehearsed without --start-revision THEN it is not
    moved first (nothing to migrate: the run succeeds at head, as it found it)."""
    bundled = ["--migrations-source", "bundled"]  # migrations/, as the function bundles it
    assert (
        main(["rehearse", "--database-url", database_url, "--start-revision", "head", *bundled])
        == 0
    )
    capsys.readouterr()

    code = main(["rehearse", "--database-url", database_url, "--json", *bundled])

    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert out["revision_before"] == out["revision_after"] == HEAD
    assert revision(database_url) == HEAD


def _uuid_ossp_project(tmp_path: Path) -> Path:
    """A bare script directory whose one revision needs uuid-ossp (a table using it)."""
    versions = tmp_path / "scripts" / "versions"
    versions.mkdir(parents=True)
    (versions / "ext0001_uuid.py").write_text(
        'revision = "ext0001"\ndown_revision = None\nfrom alembic import op\n\n'
        "def upgrade():\n    op.execute('CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\"')\n"
        "    op.execute('CREATE TABLE tokens (id uuid DEFAULT uuid_generate_v4())')\n\n"
        "def downgrade():\n    op.execute('DROP TABLE tokens')\n"
    )
    return tmp_path / "scripts"


def test_a_missing_extension_fails_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a revision that needs uuid-ossp WHEN rehearsed on the embedded server (which lacks
    it) THEN the run fails and its error says the server does not have the extension."""
    code = main(["rehearse", "--migrations", str(_uuid_ossp_project(tmp_path)), "--json"])

    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_UNEXPECTED
    assert out["status"] == "failed"
    assert "does not have the extension 'uuid-ossp'" in json.dumps(out)


@pytest.mark.skipif(not (DEBIAN_PG_BIN / "initdb").is_file(), reason="no Debian PostgreSQL")
def test_pg_bin_runs_the_cluster_from_other_binaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN Debian's PostgreSQL 15 with contrib WHEN a uuid-ossp revision is rehearsed with
    --pg-bin THEN it succeeds, on that server."""
    scripts = _uuid_ossp_project(tmp_path)
    args = ["rehearse", "--migrations", str(scripts), "--pg-bin", str(DEBIAN_PG_BIN)]

    code = main([*args, "--json"])

    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK, out
    assert out["revision_after"] == "ext0001"


def test_a_failure_after_a_committed_autocommit_block_is_reverted(database_url: str) -> None:
    """GIVEN a database at conc0001 and pending revisions of which the first builds an index
    CONCURRENTLY (an autocommit block: committed at once) and a later one fails WHEN the run
    goes through the real definition THEN the run's revert brings the schema back to
    from_revision: the committed revision and its index are undone, the service untouched."""
    result = rehearse(
        RehearsalConfig(
            migrations_dir=PROJECTS / "concurrently",
            database_url=database_url,
            start_revision="conc0001",
            scenario=SCENARIOS["migration-fails"],
        )
    )

    assert result.status == "failed"
    assert result.revision_before == "conc0001"
    assert revision(database_url) == "conc0001"
    indexes = query(database_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'events'")
    assert "ix_events_kind" not in {row[0] for row in indexes}
    assert result.service == result.service_before
    (event,) = result.events
    assert event["DetailType"] == "Deployment Failed"
    assert event["Detail"]["from_revision"] == "conc0001"
