"""Fixtures of the integration suite: handlers wired to a fresh database, scratch script dirs."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from pushgate import settings
from pushgate_cli.embedded import EmbeddedPostgres
from pushgate_cli.handlers import load_handler

from tests.helpers import MIGRATIONS, ScriptDir


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
    monkeypatch.setenv(settings.MIGRATIONS_SOURCE, "bundled")  # image: tests/integration/*image*
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
