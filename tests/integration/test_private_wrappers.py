"""The one private library call pushgate makes (pushgate.migrator.private), on the pinned pg8000.

pg8000 has no public way to change a connection's socket timeout after connecting. When an
upgrade of pg8000 renames or drops what the wrapper reaches for, these tests fail.
"""

from __future__ import annotations

import contextlib

import pytest
from pg8000.exceptions import InterfaceError
from pushgate.database import classify_error, connect_dbapi, parse_database_url
from pushgate.errors import DatabaseNotReady
from pushgate.migrator.private import set_read_timeout

pytestmark = pytest.mark.integration


def test_a_shortened_read_timeout_ends_a_statement_that_outlasts_it(database_url: str) -> None:
    """GIVEN a connection opened with the 5 s connect timeout, its read timeout then set to
    0.2 s WHEN a statement runs for 1.5 s THEN the read times out: the connection is reported
    lost (DatabaseNotReady), not waited on."""
    con = connect_dbapi(parse_database_url(database_url))
    try:
        applied = set_read_timeout(con, 0.2)
        cursor = con.cursor()
        with pytest.raises(TimeoutError) as raised:
            cursor.execute("SELECT pg_sleep(1.5)")
    finally:
        with contextlib.suppress(OSError, InterfaceError):  # the timed-out socket is unusable
            con.close()

    assert applied is True
    assert isinstance(classify_error(raised.value), DatabaseNotReady)


def test_a_longer_read_timeout_lets_a_long_statement_finish(database_url: str) -> None:
    """GIVEN a connection opened with a 0.3 s connect timeout, its read timeout then set to
    10 s WHEN a statement runs for 1 s THEN it finishes (the timeout really is replaced)."""
    con = connect_dbapi(parse_database_url(database_url, connect_timeout=0.3))
    try:
        applied = set_read_timeout(con, 10)
        cursor = con.cursor()
        cursor.execute("SELECT pg_sleep(1), 42")
        row = cursor.fetchone()
    finally:
        con.close()

    assert applied is True
    assert row is not None
    assert row[1] == 42
