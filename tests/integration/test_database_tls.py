"""DATABASE_SSLMODE=require against a server without TLS: a settings error, not "not ready"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import ModuleType

import pytest
from pushgate import settings
from pushgate.database import connect, parse_database_url
from pushgate.errors import DatabaseConfigError, DatabaseNotReady
from pushgate_cli.lambda_context import LambdaContext

from tests.helpers import query

pytestmark = pytest.mark.integration


def test_require_against_a_server_without_tls_is_a_config_error(database_url: str) -> None:
    # GIVEN the test server, which offers no TLS (it answers the TLS request with "N")
    assert query(database_url, "SHOW ssl") == [["off"]]
    db = replace(parse_database_url(database_url), sslmode="require")

    # WHEN a connection is opened with sslmode require
    with pytest.raises(DatabaseConfigError) as raised:
        connect(db)

    # THEN it is final (retrying cannot change the server's answer), and says why
    assert not isinstance(raised.value, DatabaseNotReady)
    assert "does not offer TLS" in str(raised.value)


def test_prefer_against_the_same_server_connects_in_plain_text(database_url: str) -> None:
    db = replace(parse_database_url(database_url), sslmode="prefer")
    con = connect(db)
    try:
        assert con.run("SELECT 1") == [[1]]
    finally:
        con.close()


def test_check_database_with_require_fails_at_once_as_a_config_error(
    check_database: Callable[[], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    # GIVEN check_database configured with DATABASE_SSLMODE=require, the server without TLS
    monkeypatch.setenv(settings.DATABASE_SSLMODE, "require")
    handler = check_database()
    # WHEN it runs THEN it raises the error the state machine does not retry
    with pytest.raises(DatabaseConfigError):
        handler.lambda_handler({}, lambda_context)
