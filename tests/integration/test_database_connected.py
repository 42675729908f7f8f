"""pushgate.database.connected: the one connection readiness and the lock release share."""

from __future__ import annotations

import pytest
from pg8000.exceptions import DatabaseError
from pushgate.database import connected, parse_database_url, sqlstate
from pushgate.errors import DatabaseNotReady

from tests.helpers import query

pytestmark = pytest.mark.integration


def test_the_search_path_is_set_before_the_block_runs(database_url: str) -> None:
    # GIVEN a search_path statement, as the version table's schema gives it
    db = parse_database_url(database_url)

    # WHEN a connection is opened with it
    with connected(db, "SET search_path TO pushgate_probe, public") as con:
        shown = con.run("SHOW search_path")

    # THEN the block's first statement already sees it
    assert shown == [["pushgate_probe, public"]]


def test_without_a_search_path_statement_the_servers_own_stands(database_url: str) -> None:
    db = parse_database_url(database_url)
    with connected(db) as con:
        shown = con.run("SHOW search_path")
    assert shown == query(database_url, "SHOW search_path")


def test_a_transaction_left_open_rolls_back_when_the_block_ends(database_url: str) -> None:
    # GIVEN a block that opens a transaction and creates a table, without COMMIT
    db = parse_database_url(database_url)
    with connected(db) as con:
        con.run("START TRANSACTION")
        con.run("CREATE TABLE connected_probe (id int)")

    # THEN nothing of it is in the database: the close did not commit
    assert query(database_url, "SELECT to_regclass('connected_probe')") == [[None]]


def test_a_connection_the_server_ends_mid_block_is_not_ready_and_still_closes(
    database_url: str,
) -> None:
    # GIVEN a block whose connection the server terminates (as a restart or failover does)
    db = parse_database_url(database_url)

    # WHEN the block runs
    with pytest.raises(DatabaseNotReady) as raised, connected(db) as con:
        con.run("SELECT pg_terminate_backend(pg_backend_pid())")

    # THEN it is the retryable error, the server's failure kept as its cause, and the close of
    # the broken connection raised nothing of its own
    assert raised.value.__cause__ is not None


def test_an_error_that_is_not_about_readiness_passes_through_unchanged(database_url: str) -> None:
    # GIVEN a block whose statement fails for a reason of its own (no such table)
    db = parse_database_url(database_url)

    # WHEN it runs
    with pytest.raises(DatabaseError) as raised, connected(db) as con:
        con.run("SELECT * FROM no_such_table")

    # THEN the caller gets pg8000's error, its SQLSTATE intact, not a pushgate error
    assert sqlstate(raised.value) == "42P01"
