"""check_database against a real PostgreSQL: ready, not ready (retryable), misconfigured (final)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from pushgate import settings
from pushgate.errors import DatabaseConfigError, DatabaseNotReady
from pushgate_cli.embedded import APP_DATABASE, APP_PASSWORD, APP_USER, EmbeddedPostgres
from pushgate_cli.handlers import load_handler

from tests.helpers import HEAD, load_event, modules_after_cold_start

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.integration


def _url(password: str, port: int, database: str = APP_DATABASE) -> str:
    return f"postgresql://{APP_USER}:{quote(password, safe='')}@127.0.0.1:{port}/{database}"


def _check(
    monkeypatch: pytest.MonkeyPatch, url: str, context: LambdaContext, **env: str
) -> dict[str, object]:
    monkeypatch.setenv(settings.DATABASE_URL, url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    handler = load_handler("check_database", fresh=True)
    result: dict[str, object] = handler.lambda_handler(load_event("ecr_push"), context)
    return result


def test_ready_on_a_fresh_database(
    check_database: Callable[[], ModuleType], lambda_context: LambdaContext
) -> None:
    """GIVEN an empty database WHEN checked THEN it is ready, a writer, with no revision yet."""
    result = check_database().lambda_handler(load_event("ecr_push"), lambda_context)

    assert set(result) == {"ready", "server_version", "in_recovery", "revision", "latency_ms"}
    assert result["ready"] is True
    assert result["in_recovery"] is False
    assert result["revision"] is None
    assert isinstance(result["server_version"], str)
    assert result["server_version"]
    assert isinstance(result["latency_ms"], float)
    assert result["latency_ms"] > 0
    json.dumps(result)  # the state machine gets it as JSON


def test_reports_the_current_revision(
    check_database: Callable[[], ModuleType],
    run_migrations: Callable[[], ModuleType],
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a database migrated to head WHEN checked THEN the revision is head's."""
    run_migrations().lambda_handler({"action": "upgrade"}, lambda_context)

    result = check_database().lambda_handler({}, lambda_context)

    assert result["revision"] == HEAD


def test_wrong_password_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
    private_server: EmbeddedPostgres,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a server with password auth WHEN the password is wrong THEN DatabaseConfigError."""
    url = _url(APP_PASSWORD + "-wrong", private_server.port)

    with pytest.raises(DatabaseConfigError):
        _check(monkeypatch, url, lambda_context)


def test_the_right_password_with_url_special_characters_works(
    monkeypatch: pytest.MonkeyPatch,
    private_server: EmbeddedPostgres,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a password with @ : / % WHEN percent-escaped in DATABASE_URL THEN it is accepted."""
    result = _check(monkeypatch, private_server.url, lambda_context)

    assert result["ready"] is True


def test_unknown_database_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
    private_server: EmbeddedPostgres,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a database name that does not exist WHEN checked THEN DatabaseConfigError."""
    url = _url(APP_PASSWORD, private_server.port, database="no_such_database")

    with pytest.raises(DatabaseConfigError):
        _check(monkeypatch, url, lambda_context)


def test_stopped_server_is_not_ready(
    monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    """GIVEN a server that was running and is now stopped WHEN checked THEN DatabaseNotReady."""
    with EmbeddedPostgres() as server:
        url = server.url
        server.kill()

        with pytest.raises(DatabaseNotReady):
            _check(monkeypatch, url, lambda_context)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a black-holed server)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_silent_server_times_out_as_not_ready(
    monkeypatch: pytest.MonkeyPatch, silent_listener: int, lambda_context: LambdaContext
) -> None:
    """GIVEN a server that never answers WHEN checked with a 0.5 s timeout THEN DatabaseNotReady
    within about that time."""
    started = time.monotonic()

    with pytest.raises(DatabaseNotReady):
        _check(
            monkeypatch,
            _url(APP_PASSWORD, silent_listener),
            lambda_context,
            **{settings.DATABASE_CONNECT_TIMEOUT: "0.5"},
        )

    assert time.monotonic() - started < 3


def test_replica_in_recovery_is_not_ready(
    monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    """GIVEN a server restarted as a hot standby (in recovery) WHEN checked THEN DatabaseNotReady:
    migrations need the writer."""
    with EmbeddedPostgres() as server:
        (server.data_dir / "standby.signal").touch()
        server.restart()

        with pytest.raises(DatabaseNotReady):
            _check(monkeypatch, server.url, lambda_context)


def test_missing_settings_fail_on_invocation(
    monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    """GIVEN neither DATABASE_URL nor DATABASE_SECRET_ARN WHEN the handler is loaded THEN the
    cold start succeeds AND every invocation raises DatabaseConfigError."""
    monkeypatch.delenv(settings.DATABASE_URL, raising=False)
    monkeypatch.delenv(settings.DATABASE_SECRET_ARN, raising=False)
    handler = load_handler("check_database", fresh=True)

    for _ in range(2):
        with pytest.raises(DatabaseConfigError):
            handler.lambda_handler({}, lambda_context)


# -- settings from Secrets Manager (moto) ---------------------------------------------------
@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv(settings.DATABASE_URL, raising=False)
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def _secret_handler(monkeypatch: pytest.MonkeyPatch, client: Any, secret_string: str) -> ModuleType:
    arn = client.create_secret(Name="pushgate/db", SecretString=secret_string)["ARN"]
    monkeypatch.setenv(settings.DATABASE_SECRET_ARN, arn)
    return load_handler("check_database", fresh=True)


def test_rds_secret_is_used(
    monkeypatch: pytest.MonkeyPatch,
    secrets: Any,
    private_server: EmbeddedPostgres,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN an RDS-format secret pointing at the server WHEN checked THEN ready."""
    secret = {
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": private_server.port,
        "username": APP_USER,
        "password": APP_PASSWORD,
        "dbname": APP_DATABASE,
    }
    handler = _secret_handler(monkeypatch, secrets, json.dumps(secret))

    assert handler.lambda_handler({}, lambda_context)["ready"] is True


@pytest.mark.parametrize(
    "secret_string",
    [
        pytest.param("not json at all {", id="not-json"),
        pytest.param('["a", "list"]', id="not-an-object"),
        pytest.param('{"host": "127.0.0.1", "port": 5432, "username": "u"}', id="missing-keys"),
    ],
)
def test_malformed_secret_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
    secrets: Any,
    secret_string: str,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a secret that is not an RDS-format JSON object WHEN checked THEN
    DatabaseConfigError."""
    handler = _secret_handler(monkeypatch, secrets, secret_string)

    with pytest.raises(DatabaseConfigError):
        handler.lambda_handler({}, lambda_context)


def test_missing_secret_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, secrets: Any, lambda_context: LambdaContext
) -> None:
    """GIVEN an ARN of a secret that does not exist WHEN checked THEN DatabaseConfigError."""
    monkeypatch.setenv(
        settings.DATABASE_SECRET_ARN,
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:pushgate/none-AbCdEf",
    )
    handler = load_handler("check_database", fresh=True)

    with pytest.raises(DatabaseConfigError):
        handler.lambda_handler({}, lambda_context)


# -- cold start cost ------------------------------------------------------------------------
def test_cold_start_imports_neither_alembic_nor_sqlalchemy(database_url: str) -> None:
    """GIVEN a fresh interpreter with tracing on (as in AWS) WHEN check_database is loaded and
    invoked THEN neither alembic nor SQLAlchemy was imported."""
    imported = modules_after_cold_start(
        "check_database",
        {settings.DATABASE_URL: database_url},
        {"alembic", "sqlalchemy"},
        invoke=True,
    )

    assert imported == []


def test_a_rotated_password_is_picked_up_at_once(
    monkeypatch: pytest.MonkeyPatch,
    secrets: Any,
    private_server: EmbeddedPostgres,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a secret cached with a stale password WHEN the secret is rotated to the right one
    THEN the next check fetches it again (bypassing the cache) and is ready."""
    secret = {
        "host": "127.0.0.1",
        "port": private_server.port,
        "username": APP_USER,
        "password": "stale",
        "dbname": APP_DATABASE,
    }
    handler = _secret_handler(monkeypatch, secrets, json.dumps(secret))
    with pytest.raises(DatabaseConfigError):
        handler.lambda_handler({}, lambda_context)

    secrets.put_secret_value(
        SecretId="pushgate/db", SecretString=json.dumps({**secret, "password": APP_PASSWORD})
    )

    assert handler.lambda_handler({}, lambda_context)["ready"] is True
