"""No log line, metric or error message carries the database password."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import pytest
from pushgate import settings
from pushgate.errors import DatabaseConfigError, MigrationFailed
from pushgate_cli.embedded import APP_PASSWORD, EmbeddedPostgres
from pushgate_cli.handlers import load_handler

from tests.helpers import HEAD, ScriptDir

if TYPE_CHECKING:
    from tests.conftest import FakeLambdaContext

pytestmark = pytest.mark.integration


def test_no_log_line_carries_the_password(
    monkeypatch: pytest.MonkeyPatch,
    private_server: EmbeddedPostgres,
    script_dir: ScriptDir,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GIVEN debug logging and a password with URL-special characters WHEN both handlers run
    through success, a wrong password and a failing revision THEN neither the password nor its
    escaped form appears in stdout, stderr, any log record or any error message."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(settings.POWERTOOLS_LOG_LEVEL, "DEBUG")
    url = private_server.create_database("no_password_in_logs")
    password = unquote(urlsplit(url).password or "")
    assert password == APP_PASSWORD
    script_dir.add_revision("e0000000000e", HEAD, upgrade="op.execute('SELECT 1 / 0')")
    errors: list[str] = []

    monkeypatch.setenv(settings.DATABASE_URL, url)
    check = load_handler("check_database", fresh=True)
    check.lambda_handler({}, lambda_context)
    migrate = load_handler("run_migrations", fresh=True)
    migrate.lambda_handler({"action": "plan"}, lambda_context)
    migrate.lambda_handler({"action": "upgrade", "target": HEAD}, lambda_context)
    monkeypatch.setenv(settings.MIGRATIONS_DIR, str(script_dir.path))
    with pytest.raises(MigrationFailed) as failed:
        load_handler("run_migrations", fresh=True).lambda_handler(
            {"action": "upgrade"}, lambda_context
        )
    errors.append(repr(failed.value))
    monkeypatch.setenv(settings.DATABASE_URL, url.replace("%40ss", "%40sx"))  # wrong password
    for name in ("check_database", "run_migrations"):
        with pytest.raises(DatabaseConfigError) as wrong:
            load_handler(name, fresh=True).lambda_handler({"action": "upgrade"}, lambda_context)
        errors.append(repr(wrong.value))
        errors.append(repr(wrong.value.__cause__))

    captured = capsys.readouterr()
    everything = "\n".join(
        [captured.out, captured.err, *errors, *(r.getMessage() for r in caplog.records)]
        + [repr(r.__dict__) for r in caplog.records]
    )
    assert "migration request done" in everything  # we did capture the logs
    for form in {password, quote(password, safe=""), quote(password)}:
        assert form not in everything
