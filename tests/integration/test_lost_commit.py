"""A COMMIT whose reply is lost, and the revert every failed or rolled-back migration ends with,
against a real PostgreSQL (through a loopback proxy that loses the reply)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from pushgate import settings
from pushgate.errors import (
    DatabaseNotReady,
    InvalidRequest,
    MigrationOutcomeUnknown,
    SchemaDrift,
)

from tests.helpers import CHAIN, HEAD, columns, query, revision, tables
from tests.integration.proxy import CommitReplyLosingProxy, Loss

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.integration

RunMigrations = Callable[[], ModuleType]
PREVIOUS = CHAIN[-2]


def _at(handler: ModuleType, target: str, context: LambdaContext) -> None:
    """Bring the database to ``target`` (directly, no proxy in between)."""
    handler.lambda_handler({"action": "upgrade", "target": target}, context)


def _sessions_of_migrations(url: str) -> int:
    rows = query(
        url,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'pushgate-migrations' AND datname = current_database()",
    )
    return int(rows[0][0])


def _upgrade_through(
    proxy: CommitReplyLosingProxy,
    run_migrations: RunMigrations,
    monkeypatch: pytest.MonkeyPatch,
    context: LambdaContext,
) -> Any:
    monkeypatch.setenv(settings.DATABASE_URL, proxy.url)
    return run_migrations().lambda_handler({"action": "upgrade"}, context)


# -- the COMMIT's reply is lost ----------------------------------------------------------------
@pytest.mark.parametrize("keep_server_side", [False, True], ids=["connection-closed", "partition"])
def test_a_commit_applied_whose_reply_was_lost_is_reported_applied(
    run_migrations: RunMigrations,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
    keep_server_side: bool,
) -> None:
    """GIVEN a database one revision below head WHEN the upgrade's COMMIT reaches the server
    and its reply is lost (the server closing the old connection, or still holding it as in a
    partition) THEN run_migrations re-reads the version table on a new connection and answers
    what happened: the revision applied, the database at head, the old session gone."""
    _at(run_migrations(), PREVIOUS, lambda_context)

    with CommitReplyLosingProxy(
        db_env, Loss.COMMIT_APPLIED, keep_server_side=keep_server_side
    ) as proxy:
        result = _upgrade_through(proxy, run_migrations, monkeypatch, lambda_context)
        lost = proxy.lost_replies

    assert lost == 1
    assert (result["from_revision"], result["to_revision"]) == (PREVIOUS, HEAD)
    assert result["applied"] == [HEAD]
    assert revision(db_env) == HEAD
    assert "last_login_at" in columns(db_env, "users")
    assert _sessions_of_migrations(db_env) == 0


def test_a_commit_that_never_arrived_is_reported_rolled_back_after_checking(
    run_migrations: RunMigrations,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a database one revision below head WHEN the upgrade's COMMIT is lost on the way
    and the server still holds the session, its transaction open THEN run_migrations ends that
    session, re-reads, and says DatabaseNotReady (retryable) naming the revision it verified
    the database is at; the database is at it."""
    _at(run_migrations(), PREVIOUS, lambda_context)

    with (
        CommitReplyLosingProxy(db_env, Loss.COMMIT_NEVER_ARRIVED, keep_server_side=True) as proxy,
        pytest.raises(DatabaseNotReady) as raised,
    ):
        _upgrade_through(proxy, run_migrations, monkeypatch, lambda_context)

    assert PREVIOUS in str(raised.value)
    assert revision(db_env) == PREVIOUS
    assert "last_login_at" not in columns(db_env, "users")


def test_a_lost_reply_that_cannot_be_checked_claims_nothing(
    run_migrations: RunMigrations,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a COMMIT applied whose reply is lost WHEN no new connection can reach the server
    THEN MigrationOutcomeUnknown naming both revisions, never a claimed rollback (the database
    did move to head)."""
    _at(run_migrations(), PREVIOUS, lambda_context)

    with (
        CommitReplyLosingProxy(db_env, Loss.COMMIT_APPLIED, refuse_after=True) as proxy,
        pytest.raises(MigrationOutcomeUnknown) as raised,
    ):
        _upgrade_through(proxy, run_migrations, monkeypatch, lambda_context)

    message = str(raised.value)
    assert PREVIOUS in message
    assert HEAD in message
    assert "rolled back" not in message
    assert revision(db_env) == HEAD


# -- revert: back to the run's from_revision, only if this run moved it -------------------------
def _revert(handler: ModuleType, start: str | None, context: LambdaContext) -> Any:
    return handler.lambda_handler({"action": "revert", "from_revision": start}, context)


def test_revert_undoes_what_the_run_applied_and_is_safe_twice(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a run that moved the database from the first revision to head WHEN reverted to
    its from_revision, twice (a redrive) THEN the first downgrades exactly to it, the second
    does nothing."""
    handler = run_migrations()
    _at(handler, CHAIN[0], lambda_context)
    _at(handler, "head", lambda_context)

    first = _revert(handler, CHAIN[0], lambda_context)
    second = _revert(handler, CHAIN[0], lambda_context)

    assert (first["action"], first["from_revision"], first["to_revision"]) == (
        "revert",
        HEAD,
        CHAIN[0],
    )
    assert first["applied"] == [CHAIN[2], CHAIN[1]]
    assert (second["from_revision"], second["to_revision"], second["applied"]) == (
        CHAIN[0],
        CHAIN[0],
        [],
    )
    assert revision(db_env) == CHAIN[0]
    assert tables(db_env) == {"users", "alembic_version"}


def test_revert_after_a_partial_move_goes_back_from_where_the_database_really_is(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a run from base that got only one revision in (the rest failed) WHEN reverted to
    base (from_revision null) THEN that revision is undone: the revert reads the database, not
    what an attempt reported."""
    handler = run_migrations()
    _at(handler, CHAIN[0], lambda_context)

    result = _revert(handler, None, lambda_context)

    assert result["applied"] == [CHAIN[0]]
    assert result["to_revision"] is None
    assert revision(db_env) is None


def test_revert_when_nothing_moved_is_a_no_op(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database still at the run's from_revision WHEN reverted THEN nothing is done."""
    handler = run_migrations()
    _at(handler, PREVIOUS, lambda_context)

    result = _revert(handler, PREVIOUS, lambda_context)

    assert result["applied"] == []
    assert revision(db_env) == PREVIOUS


@pytest.mark.parametrize(
    ("at", "start"),
    [
        pytest.param(CHAIN[0], PREVIOUS, id="below-from_revision"),
        pytest.param("ffffffffffff", PREVIOUS, id="unknown-revision"),
    ],
)
def test_revert_refuses_a_database_this_run_did_not_move(
    run_migrations: RunMigrations,
    db_env: str,
    lambda_context: LambdaContext,
    at: str,
    start: str,
) -> None:
    """GIVEN a database below the run's from_revision, or at a revision the scripts do not
    know WHEN reverted THEN SchemaDrift and nothing is done."""
    handler = run_migrations()
    if at in CHAIN:
        _at(handler, at, lambda_context)
    else:
        query(db_env, "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        query(db_env, "INSERT INTO alembic_version VALUES (:v)", v=at)

    with pytest.raises(SchemaDrift):
        _revert(handler, start, lambda_context)

    assert revision(db_env) == at


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"action": "revert"}, id="no-from_revision"),
        pytest.param({"action": "revert", "from_revision": ""}, id="empty"),
        pytest.param({"action": "revert", "from_revision": 7}, id="not-a-string"),
        pytest.param({"action": "revert", "from_revision": "-1"}, id="relative"),
        pytest.param({"action": "revert", "from_revision": None, "target": HEAD}, id="extra"),
    ],
)
def test_malformed_reverts_change_nothing(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext, event: Any
) -> None:
    """GIVEN a database at head WHEN a revert is malformed THEN InvalidRequest, nothing done."""
    handler = run_migrations()
    _at(handler, "head", lambda_context)

    with pytest.raises(InvalidRequest):
        handler.lambda_handler(event, lambda_context)

    assert revision(db_env) == HEAD
