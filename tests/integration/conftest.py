"""Fixtures of the integration suite: handlers wired to a fresh database, scratch script dirs."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pushgate import settings
from pushgate.db import connect, parse_database_url
from pushgate_cli.embedded import EmbeddedPostgres
from pushgate_cli.handlers import REPO_ROOT, load_handler

MIGRATIONS = REPO_ROOT / "migrations"
# the bundled revisions, base to head
CHAIN = ["3f1c9a2b7d10", "8b2e4d6f1a03", "c47a91e2b5d8"]
HEAD = CHAIN[-1]


def query(url: str, sql: str, **params: Any) -> list[list[Any]]:
    """Run one statement on the database at ``url`` (its own connection) and return the rows."""
    con = connect(parse_database_url(url))
    try:
        return con.run(sql, **params) or []
    finally:
        con.close()


def tables(url: str) -> set[str]:
    rows = query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row[0] for row in rows}


def columns(url: str, table: str) -> set[str]:
    rows = query(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t",
        t=table,
    )
    return {row[0] for row in rows}


def revision(url: str) -> str | None:
    if "alembic_version" not in tables(url):
        return None
    rows = query(url, "SELECT version_num FROM alembic_version")
    return rows[0][0] if rows else None


class ScriptDir:
    """A scratch copy of migrations/ that a test may add revisions to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add_revision(
        self, rev: str, down: str | None, upgrade: str, downgrade: str = "pass"
    ) -> None:
        """Write ``versions/<rev>_test.py`` with the given function bodies."""

        def body(code: str) -> str:
            return textwrap.indent(textwrap.dedent(code).strip(), "    ")

        source = "\n".join(
            [
                f'"""{rev} (test revision)"""',
                "",
                "import sqlalchemy as sa",
                "from alembic import op",
                "",
                f"revision = {rev!r}",
                f"down_revision = {down!r}",
                "branch_labels = None",
                "depends_on = None",
                "",
                "",
                "def upgrade() -> None:",
                body(upgrade),
                "",
                "",
                "def downgrade() -> None:",
                body(downgrade),
                "",
            ]
        )
        (self.path / "versions" / f"{rev}_test.py").write_text(source)


@pytest.fixture
def script_dir(tmp_path: Path) -> ScriptDir:
    """A copy of migrations/ in tmp_path (env.py, template, the bundled revisions)."""
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return ScriptDir(target)


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """The handlers' environment pointed at this test's fresh database; its URL."""
    monkeypatch.setenv(settings.DATABASE_URL, database_url)
    monkeypatch.delenv(settings.DATABASE_SECRET_ARN, raising=False)
    monkeypatch.delenv(settings.MIGRATIONS_DIR, raising=False)
    return database_url


@pytest.fixture
def run_migrations(db_env: str) -> Callable[[], ModuleType]:
    """Load run_migrations freshly (a cold start with the current environment)."""
    return lambda: load_handler("run_migrations", fresh=True)


@pytest.fixture
def check_database(db_env: str) -> Callable[[], ModuleType]:
    return lambda: load_handler("check_database", fresh=True)


@pytest.fixture(scope="module")
def private_server() -> Iterator[EmbeddedPostgres]:
    """An embedded server of this module's own (scram-sha-256 auth, known credentials)."""
    with EmbeddedPostgres() as server:
        yield server
