"""No log line, metric or error message carries the database password."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from pushgate import settings
from pushgate.errors import DatabaseConfigError, MigrationFailed
from pushgate_cli.embedded import APP_DATABASE, APP_PASSWORD, APP_USER, EmbeddedPostgres
from pushgate_cli.handlers import load_handler

from tests.helpers import HEAD, ScriptDir

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.integration


def test_no_log_line_carries_the_password(
    monkeypatch: pytest.MonkeyPatch,
    private_server: EmbeddedPostgres,
    script_dir: ScriptDir,
    lambda_context: LambdaContext,
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
    monkeypatch.setenv(settings.MIGRATIONS_SOURCE, "bundled")
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


def test_no_log_line_carries_the_secret(
    monkeypatch: pytest.MonkeyPatch,
    private_server: EmbeddedPostgres,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GIVEN the settings in an RDS-format secret and every logger at DEBUG (a function whose
    log level was raised for troubleshooting) WHEN both handlers run with the right password and
    with a stale one THEN the password appears in no output, log record or error message."""
    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        (settings.POWERTOOLS_LOG_LEVEL, "DEBUG"),
        (settings.MIGRATIONS_SOURCE, "bundled"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(settings.DATABASE_URL, raising=False)
    stale = "stale-" + APP_PASSWORD
    secret = {
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": private_server.port,
        "username": APP_USER,
        "dbname": APP_DATABASE,
    }
    errors: list[str] = []
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    with mock_aws():
        client = boto3.client("secretsmanager")
        arns = {
            password: client.create_secret(
                Name=f"pushgate/db-{i}", SecretString=json.dumps({**secret, "password": password})
            )["ARN"]
            for i, password in enumerate((APP_PASSWORD, stale))
        }
        caplog.set_level(logging.DEBUG)  # after the secrets are created: the test's own calls

        monkeypatch.setenv(settings.DATABASE_SECRET_ARN, arns[APP_PASSWORD])
        load_handler("check_database", fresh=True).lambda_handler({}, lambda_context)
        load_handler("run_migrations", fresh=True).lambda_handler(
            {"action": "plan"}, lambda_context
        )
        monkeypatch.setenv(settings.DATABASE_SECRET_ARN, arns[stale])
        for name in ("check_database", "run_migrations"):
            with pytest.raises(DatabaseConfigError) as wrong:
                load_handler(name, fresh=True).lambda_handler({"action": "plan"}, lambda_context)
            errors += [repr(wrong.value), repr(wrong.value.__cause__)]
    parameters.clear_caches()  # type: ignore[no-untyped-call]

    captured = capsys.readouterr()
    everything = "\n".join(
        [captured.out, captured.err, *errors, *(r.getMessage() for r in caplog.records)]
        + [repr(r.__dict__) for r in caplog.records]
    )
    assert "migration request done" in everything  # we did capture the logs
    assert "GetSecretValue" in everything  # and botocore's
    for password in (APP_PASSWORD, stale):
        for form in {password, quote(password, safe=""), json.dumps(password)[1:-1]}:
            assert form not in everything
