"""run_migrations' read-only actions for the task runner, against a real PostgreSQL: ``inspect``
(what a migration or downgrade task moved), ``check_revert`` (may a downgrade task run?) and
``check_upgrade`` (may an upgrade task run, or is the schema ahead?)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from pushgate.errors import InvalidRequest, SchemaDrift
from pushgate_cli.schema import move_to

from tests.helpers import CHAIN, HEAD, MIGRATIONS, load_event, query, revision, tables

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.integration

RunMigrations = Callable[[], ModuleType]


def test_inspect_after_an_upgrade_task_reports_what_it_applied(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN a run that started at the first revision, and a task that then moved it to head
    move_to(db_env, MIGRATIONS, HEAD)
    before = tables(db_env)

    # WHEN run_migrations inspects it from the run's from_revision
    result = run_migrations().lambda_handler(load_event("run_migrations_inspect"), lambda_context)

    # THEN it answers as the Lambda runner would have: from, to and the revisions applied, oldest
    # first, and it changed nothing
    assert (result["action"], result["from_revision"], result["to_revision"]) == (
        "inspect",
        CHAIN[0],
        HEAD,
    )
    assert result["applied"] == CHAIN[1:]
    assert tables(db_env) == before
    assert revision(db_env) == HEAD


def test_inspect_after_a_downgrade_task_lists_the_revisions_undone_newest_first(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN a downgrade task that took the database from head back to the first revision
    move_to(db_env, MIGRATIONS, CHAIN[0])

    # WHEN inspected from where the downgrade found it, expecting the run's start
    event = {"action": "inspect", "from_revision": HEAD, "expected_current": CHAIN[0]}
    result = run_migrations().lambda_handler(event, lambda_context)

    # THEN the revisions downgraded, newest first
    assert result["to_revision"] == CHAIN[0]
    assert result["applied"] == list(reversed(CHAIN[1:]))


def test_inspect_expecting_another_revision_is_schema_drift(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN a downgrade task that left the database at head (it did not work)
    move_to(db_env, MIGRATIONS, HEAD)
    # WHEN inspected expecting the run's start (null: base)
    event = {"action": "inspect", "from_revision": HEAD, "expected_current": None}
    # THEN SchemaDrift: the rollback did not land
    with pytest.raises(SchemaDrift):
        run_migrations().lambda_handler(event, lambda_context)


def test_check_revert_says_whether_a_downgrade_task_has_this_runs_work_to_undo(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    handler = run_migrations()
    move_to(db_env, MIGRATIONS, HEAD)
    # GIVEN a database at head: a run that started at the first revision moved it
    moved = handler.lambda_handler(
        {"action": "check_revert", "from_revision": CHAIN[0]}, lambda_context
    )
    # a run that started at head did not
    untouched = handler.lambda_handler(
        {"action": "check_revert", "from_revision": HEAD}, lambda_context
    )
    assert (moved["downgrade"], moved["from_revision"]) == (True, HEAD)
    assert (untouched["downgrade"], untouched["applied"]) == (False, [])
    assert revision(db_env) == HEAD  # read only


def test_check_revert_below_the_runs_start_is_schema_drift_and_runs_nothing(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN someone took the database below where the run started
    move_to(db_env, MIGRATIONS, CHAIN[0])
    # WHEN checked before a downgrade task THEN SchemaDrift: no downgrade task runs
    with pytest.raises(SchemaDrift):
        run_migrations().lambda_handler(
            {"action": "check_revert", "from_revision": HEAD}, lambda_context
        )
    assert revision(db_env) == CHAIN[0]


def test_an_inspect_without_from_revision_is_refused(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    with pytest.raises(InvalidRequest):
        run_migrations().lambda_handler({"action": "inspect"}, lambda_context)


def test_check_upgrade_at_a_known_revision_lets_the_upgrade_task_run_and_changes_nothing(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN a database one revision below head
    move_to(db_env, MIGRATIONS, CHAIN[-2])
    before = tables(db_env)
    # WHEN checked before an upgrade task (the serving image named by tag: not readable)
    event = load_event("run_migrations_check_upgrade")
    result = run_migrations().lambda_handler(event, lambda_context)
    # THEN the schema is not ahead: the task may run; nothing was run here
    assert (result["schema_ahead"], result["from_revision"], result["applied"]) == (
        False,
        CHAIN[-2],
        [],
    )
    assert revision(db_env) == CHAIN[-2]
    assert tables(db_env) == before


def test_check_upgrade_at_a_revision_the_image_does_not_know_is_schema_drift(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    # GIVEN a database at a revision these scripts do not know (and no serving image named)
    move_to(db_env, MIGRATIONS, HEAD)
    query(db_env, "UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    # WHEN checked before an upgrade task THEN SchemaDrift: no task runs
    with pytest.raises(SchemaDrift):
        run_migrations().lambda_handler({"action": "check_upgrade"}, lambda_context)


def test_check_upgrade_takes_no_target(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    # the task runs MigrationCommand (alembic upgrade head): a check for another target lies
    with pytest.raises(InvalidRequest):
        run_migrations().lambda_handler(
            {"action": "check_upgrade", "target": CHAIN[0]}, lambda_context
        )
