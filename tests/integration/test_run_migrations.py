"""run_migrations against a real PostgreSQL: plan, upgrade, downgrade, and every safety net."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pg8000.native
import pytest
from pushgate import settings
from pushgate.database import connect, parse_database_url
from pushgate.errors import (
    DatabaseNotReady,
    InvalidRequest,
    MigrationFailed,
    MigrationLockTimeout,
    SchemaDrift,
)
from pushgate.migrator import MIGRATION_LOCK_KEY
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.schema import current_revision, head_of, move_to, revisions_of

from tests.helpers import (
    CHAIN,
    HEAD,
    MIGRATIONS,
    ScriptDir,
    columns,
    load_event,
    query,
    revision,
    tables,
)

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.integration

RunMigrations = Callable[[], ModuleType]


def _invoke(handler: ModuleType, event: dict[str, Any], context: LambdaContext) -> Any:
    return handler.lambda_handler(event, context)


# -- upgrade ---------------------------------------------------------------------------------
def test_fresh_database_to_head(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN an empty database WHEN upgraded THEN every revision is applied in order, the schema
    exists and the database is at head."""
    result = _invoke(run_migrations(), load_event("run_migrations_upgrade"), lambda_context)

    assert result["action"] == "upgrade"
    assert result["from_revision"] is None
    assert result["to_revision"] == HEAD
    assert result["applied"] == CHAIN
    assert result["duration_ms"] > 0
    assert {"users", "orders", "alembic_version"} <= tables(db_env)
    assert "last_login_at" in columns(db_env, "users")
    assert revision(db_env) == HEAD


def test_rerun_is_idempotent(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database at head holding data WHEN the same upgrade is replayed THEN nothing is
    applied, it says so, and the data is untouched."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade"}, lambda_context)
    query(
        db_env,
        "INSERT INTO users (email, display_name, hashed_password) VALUES ('a@b.c', 'A', 'x')",
    )

    replay = _invoke(handler, {"action": "upgrade", "target": "head"}, lambda_context)

    assert replay["applied"] == []
    assert replay["from_revision"] == replay["to_revision"] == HEAD
    assert query(db_env, "SELECT count(*) FROM users") == [[1]]


def test_replay_at_target_wins_over_a_stale_expected_current(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database already at the target WHEN a redrive carries the expected_current of the
    first attempt THEN it is a no-op, not SchemaDrift."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade", "expected_current": "base"}, lambda_context)

    redrive = _invoke(handler, {"action": "upgrade", "expected_current": "base"}, lambda_context)

    assert redrive["applied"] == []
    assert revision(db_env) == HEAD


def test_upgrade_to_a_named_revision_then_relative(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN an empty database WHEN upgraded to the first revision and then by +1 THEN each call
    applies exactly what it names."""
    handler = run_migrations()

    first = _invoke(handler, {"action": "upgrade", "target": CHAIN[0]}, lambda_context)
    tables_after_first = tables(db_env)
    second = _invoke(handler, {"action": "upgrade", "target": "+1"}, lambda_context)

    assert first["applied"] == [CHAIN[0]]
    assert tables_after_first == {"users", "alembic_version"}
    assert second["applied"] == [CHAIN[1]]
    assert second["from_revision"] == CHAIN[0]
    assert second["to_revision"] == CHAIN[1]
    assert revision(db_env) == CHAIN[1]


# -- plan ------------------------------------------------------------------------------------
def test_plan_lists_pending_revisions_and_sql_without_changing_anything(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database at the first revision WHEN planned THEN the two pending revisions are
    listed in order with their downgrade status and SQL, and the database did not move."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade", "target": CHAIN[0]}, lambda_context)

    plan = _invoke(handler, load_event("run_migrations_plan"), lambda_context)

    assert plan["action"] == "plan"
    assert plan["from_revision"] == CHAIN[0]
    assert plan["to_revision"] == HEAD
    assert plan["applied"] == []
    assert [p["revision"] for p in plan["pending"]] == CHAIN[1:]
    assert [p["down_revision"] for p in plan["pending"]] == CHAIN[:-1]
    assert all(p["downgradable"] is True for p in plan["pending"])
    assert plan["pending"][0]["description"] == "create orders"
    assert "CREATE TABLE orders" in plan["sql"]
    assert "ix_users_last_login_at" in plan["sql"]
    assert "CREATE TABLE users" not in plan["sql"]
    assert revision(db_env) == CHAIN[0]
    assert "orders" not in tables(db_env)
    json.dumps(plan)


def test_plan_at_the_target_has_nothing_pending(
    run_migrations: RunMigrations, lambda_context: LambdaContext
) -> None:
    """GIVEN a database at head WHEN planned THEN the plan's shape is kept: nothing pending, no
    SQL."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade"}, lambda_context)

    plan = _invoke(handler, {"action": "plan"}, lambda_context)

    assert (plan["from_revision"], plan["to_revision"]) == (HEAD, HEAD)
    assert (plan["applied"], plan["pending"], plan["sql"]) == ([], [], "")


def test_plan_flags_a_revision_without_a_working_downgrade(
    run_migrations: RunMigrations,
    script_dir: ScriptDir,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a pending revision whose downgrade raises WHEN planned THEN it is marked not
    downgradable and the others are."""
    script_dir.add_revision(
        "d0000000000a",
        HEAD,
        upgrade="op.drop_column('users', 'display_name')",
        downgrade="raise NotImplementedError('data is gone')",
    )
    monkeypatch.setenv(settings.MIGRATIONS_DIR, str(script_dir.path))

    plan = _invoke(run_migrations(), {"action": "plan"}, lambda_context)

    assert {p["revision"]: p["downgradable"] for p in plan["pending"]} == {
        **dict.fromkeys(CHAIN, True),
        "d0000000000a": False,
    }


# -- downgrade -------------------------------------------------------------------------------
def test_downgrade_by_one(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database at head WHEN downgraded by -1 THEN only the last revision is undone."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade"}, lambda_context)

    result = _invoke(handler, load_event("run_migrations_downgrade_one"), lambda_context)

    assert result["applied"] == [HEAD]
    assert result["from_revision"] == HEAD
    assert result["to_revision"] == CHAIN[1]
    assert "last_login_at" not in columns(db_env, "users")
    assert "orders" in tables(db_env)
    assert revision(db_env) == CHAIN[1]


def test_downgrade_to_an_exact_revision_guarded_by_expected_current(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database at head WHEN downgraded to the first revision THEN the later revisions
    are undone newest first, the enum type included."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade"}, lambda_context)

    result = _invoke(
        handler,
        {"action": "downgrade", "target": CHAIN[0], "expected_current": HEAD},
        lambda_context,
    )

    assert result["applied"] == [CHAIN[2], CHAIN[1]]
    assert result["to_revision"] == CHAIN[0]
    assert tables(db_env) == {"users", "alembic_version"}
    assert query(db_env, "SELECT count(*) FROM pg_type WHERE typname = 'order_status'") == [[0]]
    assert revision(db_env) == CHAIN[0]


def test_rollback_event_and_downgrade_to_base(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database at head WHEN the rollback event runs and then a downgrade to base THEN
    from_revision/to_revision follow AND base is reported as null."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade"}, lambda_context)

    rolled_back = _invoke(handler, load_event("run_migrations_rollback"), lambda_context)
    to_base = _invoke(handler, {"action": "downgrade", "target": "base"}, lambda_context)

    assert rolled_back["to_revision"] == CHAIN[1]
    assert to_base["applied"] == [CHAIN[1], CHAIN[0]]
    assert to_base["to_revision"] is None
    assert revision(db_env) is None
    assert tables(db_env) == {"alembic_version"}


def test_schema_drift_changes_nothing(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database at head WHEN a downgrade expects another current revision THEN
    SchemaDrift and the schema is untouched."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade"}, lambda_context)

    with pytest.raises(SchemaDrift):
        _invoke(
            handler,
            {"action": "downgrade", "target": "-1", "expected_current": CHAIN[0]},
            lambda_context,
        )

    assert revision(db_env) == HEAD
    assert "last_login_at" in columns(db_env, "users")


def test_unknown_database_revision_is_drift(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database stamped by a newer release (unknown revision) WHEN upgraded THEN
    SchemaDrift and nothing is done."""
    query(db_env, "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    query(db_env, "INSERT INTO alembic_version VALUES ('ffffffffffff')")

    with pytest.raises(SchemaDrift):
        _invoke(run_migrations(), {"action": "upgrade"}, lambda_context)

    assert revision(db_env) == "ffffffffffff"


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"action": "migrate"}, id="unknown-action"),
        pytest.param({}, id="no-action"),
        pytest.param({"action": "upgrade", "target": "0123456789ab"}, id="unknown-revision"),
        pytest.param({"action": "upgrade", "target": "-x"}, id="bad-target"),
        pytest.param({"action": "upgrade", "target": ""}, id="empty-target"),
        pytest.param({"action": "downgrade"}, id="downgrade-without-target"),
        pytest.param({"action": "downgrade", "target": "+1"}, id="downgrade-upwards"),
        pytest.param({"action": "downgrade", "target": "-1"}, id="downgrade-below-base"),
        pytest.param({"action": "upgrade", "target": 3}, id="target-not-a-string"),
    ],
)
def test_invalid_requests_change_nothing(
    run_migrations: RunMigrations,
    db_env: str,
    event: dict[str, Any],
    lambda_context: LambdaContext,
) -> None:
    """GIVEN an empty database WHEN the request is malformed THEN InvalidRequest, nothing done."""
    with pytest.raises(InvalidRequest):
        _invoke(run_migrations(), event, lambda_context)

    assert revision(db_env) is None


def test_upgrade_to_an_older_revision_is_invalid(
    run_migrations: RunMigrations, db_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN a database at head WHEN asked to 'upgrade' to the first revision THEN
    InvalidRequest: going down must be an explicit downgrade."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade"}, lambda_context)

    with pytest.raises(InvalidRequest):
        _invoke(handler, {"action": "upgrade", "target": CHAIN[0]}, lambda_context)

    assert revision(db_env) == HEAD


def test_multiple_heads_are_invalid(
    run_migrations: RunMigrations,
    script_dir: ScriptDir,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a script directory with two heads WHEN upgraded THEN InvalidRequest, nothing done."""
    script_dir.add_revision("b0000000000b", CHAIN[1], upgrade="op.execute('SELECT 1')")
    monkeypatch.setenv(settings.MIGRATIONS_DIR, str(script_dir.path))

    with pytest.raises(InvalidRequest):
        _invoke(run_migrations(), {"action": "upgrade"}, lambda_context)

    assert revision(db_env) is None


def test_a_revision_file_that_cannot_be_imported_is_invalid(
    run_migrations: RunMigrations,
    script_dir: ScriptDir,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a revision that imports the service's own code (not shipped with the function)
    WHEN the function cold-starts and is invoked THEN InvalidRequest (the design's error, not a
    runtime import error), and nothing is done."""
    (script_dir.path / "versions" / "c0000000000c_test.py").write_text(
        "import myservice.models  # noqa: F401\n"
        f"revision = 'c0000000000c'\ndown_revision = {HEAD!r}\n"
        "def upgrade() -> None: ...\ndef downgrade() -> None: ...\n"
    )
    monkeypatch.setenv(settings.MIGRATIONS_DIR, str(script_dir.path))

    with pytest.raises(InvalidRequest):
        _invoke(run_migrations(), {"action": "upgrade"}, lambda_context)

    assert revision(db_env) is None


# -- failures roll back ----------------------------------------------------------------------
FAILING = "e0000000000e"


def test_a_failing_revision_leaves_the_database_where_it_started(
    run_migrations: RunMigrations,
    script_dir: ScriptDir,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a database at the first revision and a new head that fails half-way (after creating
    a table) WHEN upgraded THEN MigrationFailed, the database is at the first revision, and none
    of the pending revisions' objects exist."""
    script_dir.add_revision(
        FAILING,
        HEAD,
        upgrade="""
            op.create_table("invoices", sa.Column("id", sa.Integer, primary_key=True))
            op.add_column("orders", sa.Column("invoice_id", sa.Integer))
            op.execute("SELECT 1 / 0")
            op.create_index("ix_invoices_id", "invoices", ["id"])
        """,
        downgrade='op.drop_table("invoices")',
    )
    monkeypatch.setenv(settings.MIGRATIONS_DIR, str(script_dir.path))
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade", "target": CHAIN[0]}, lambda_context)

    with pytest.raises(MigrationFailed):
        _invoke(handler, {"action": "upgrade"}, lambda_context)

    assert revision(db_env) == CHAIN[0]
    assert tables(db_env) == {"users", "alembic_version"}  # no orders, no invoices
    assert "last_login_at" not in columns(db_env, "users")
    # and the lock was released: the next run proceeds
    assert _invoke(handler, {"action": "upgrade", "target": HEAD}, lambda_context)["applied"] == [
        CHAIN[1],
        CHAIN[2],
    ]


def test_a_failure_from_base_leaves_nothing(
    run_migrations: RunMigrations,
    script_dir: ScriptDir,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN an empty database and four revisions, the last failing WHEN upgraded THEN the
    database is still empty (not even the version table)."""
    script_dir.add_revision(
        FAILING,
        HEAD,
        upgrade="""
            op.create_table("invoices", sa.Column("id", sa.Integer, primary_key=True))
            op.execute("INSERT INTO invoices VALUES (1), (1)")
        """,
    )
    monkeypatch.setenv(settings.MIGRATIONS_DIR, str(script_dir.path))

    with pytest.raises(MigrationFailed):
        _invoke(run_migrations(), {"action": "upgrade"}, lambda_context)

    assert tables(db_env) == set()


def _add_slow_revision(script_dir: ScriptDir, rev: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision on top of head that creates a table, then runs for 30 s; the handler's scripts."""
    script_dir.add_revision(
        rev,
        HEAD,
        upgrade="""
            op.create_table("slow", sa.Column("id", sa.Integer, primary_key=True))
            op.execute("SELECT pg_sleep(30)")
        """,
    )
    monkeypatch.setenv(settings.MIGRATIONS_DIR, str(script_dir.path))


def test_stops_before_the_lambda_deadline(
    run_migrations: RunMigrations,
    script_dir: ScriptDir,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a revision that would run for 30 s and a Lambda with 3 s left WHEN upgraded THEN
    the run stops in time with MigrationFailed and everything is rolled back."""
    _add_slow_revision(script_dir, "f0000000000f", monkeypatch)
    lambda_context.remaining_ms = 3_000
    handler = run_migrations()
    started = time.monotonic()

    with pytest.raises(MigrationFailed):
        _invoke(handler, {"action": "upgrade"}, lambda_context)

    assert time.monotonic() - started < 3  # the Lambda would have been killed at 3 s
    assert tables(db_env) == set()


# -- locks -----------------------------------------------------------------------------------
def test_lock_timeout_when_another_run_holds_the_lock(
    run_migrations: RunMigrations,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN another session holding the migration lock WHEN upgraded with a 0.5 s wait THEN
    MigrationLockTimeout after about that long, and nothing is done."""
    monkeypatch.setenv(settings.MIGRATION_LOCK_WAIT_SECONDS, "0.5")
    handler = run_migrations()
    holder = _hold_migration_lock(db_env)
    try:
        started = time.monotonic()
        with pytest.raises(MigrationLockTimeout):
            _invoke(handler, {"action": "upgrade"}, lambda_context)
        waited = time.monotonic() - started
    finally:
        holder.close()

    assert 0.4 < waited < 3  # the bounded wait, not the 60 s default
    assert revision(db_env) is None


def _hold_migration_lock(url: str) -> pg8000.native.Connection:
    """Another run's session, holding the migration lock until it is closed."""
    holder = connect(parse_database_url(url))
    holder.run("SELECT pg_advisory_lock(:k)", k=MIGRATION_LOCK_KEY)
    return holder


def _terminate_migrations_after(url: str, seconds: float) -> threading.Timer:
    """Kill run_migrations' database session after ``seconds`` (a failover, a restart)."""

    def terminate() -> None:
        query(
            url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'pushgate-migrations' AND datname = current_database()",
        )

    timer = threading.Timer(seconds, terminate)
    timer.start()
    return timer


def test_losing_the_database_while_waiting_for_the_lock_is_retryable(
    run_migrations: RunMigrations,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a run waiting for the migration lock WHEN its session is killed THEN
    DatabaseNotReady (which the state machine retries), and nothing is done."""
    monkeypatch.setenv(settings.MIGRATION_LOCK_WAIT_SECONDS, "20")
    handler = run_migrations()
    holder = _hold_migration_lock(db_env)
    killer = _terminate_migrations_after(db_env, 0.5)
    try:
        with pytest.raises(DatabaseNotReady):
            _invoke(handler, {"action": "upgrade"}, lambda_context)
    finally:
        killer.cancel()
        holder.close()

    assert revision(db_env) is None


def test_losing_the_database_mid_migration_rolls_back_and_is_retryable(
    run_migrations: RunMigrations,
    script_dir: ScriptDir,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN an upgrade whose last revision is still running WHEN its session is killed (a
    failover, a restart) THEN DatabaseNotReady (retryable: nothing was committed) and the
    database is where it started."""
    _add_slow_revision(script_dir, "a0000000000a", monkeypatch)
    handler = run_migrations()
    killer = _terminate_migrations_after(db_env, 1.0)
    try:
        with pytest.raises(DatabaseNotReady):
            _invoke(handler, {"action": "upgrade"}, lambda_context)
    finally:
        killer.cancel()

    assert tables(db_env) == set()


def _hold_users_table(url: str, release_after: float | None) -> Callable[[], None]:
    """A reader holding ACCESS SHARE on users in an open transaction (a long-running query)."""
    reader = connect(parse_database_url(url))
    reader.run("BEGIN")
    reader.run("LOCK TABLE users IN ACCESS SHARE MODE")
    done = threading.Event()

    def release() -> None:
        if not done.is_set():
            done.set()
            reader.run("ROLLBACK")
            reader.close()

    if release_after is not None:
        threading.Timer(release_after, release).start()
    return release


def test_table_lock_contention_gives_up_cleanly(
    run_migrations: RunMigrations,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a long transaction reading users WHEN a revision must ALTER users with a 100 ms
    lock_timeout THEN after a few jittered retries MigrationLockTimeout, database unchanged."""
    monkeypatch.setenv(settings.MIGRATION_LOCK_TIMEOUT_MS, "100")
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade", "target": CHAIN[1]}, lambda_context)
    release = _hold_users_table(db_env, release_after=None)
    try:
        with pytest.raises(MigrationLockTimeout):
            _invoke(handler, {"action": "upgrade"}, lambda_context)
    finally:
        release()

    assert revision(db_env) == CHAIN[1]
    assert "last_login_at" not in columns(db_env, "users")


def test_table_lock_contention_is_retried(
    run_migrations: RunMigrations,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a reader that holds users for 0.2 s WHEN a revision must ALTER users with a 100 ms
    lock_timeout THEN the whole transaction is retried and succeeds."""
    monkeypatch.setenv(settings.MIGRATION_LOCK_TIMEOUT_MS, "100")
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade", "target": CHAIN[1]}, lambda_context)
    # three attempts wait 3 x 100 ms for the lock, plus the pauses: the third always outlasts
    # a 0.2 s hold, whatever the jitter draws
    release = _hold_users_table(db_env, release_after=0.2)
    try:
        result = _invoke(handler, {"action": "upgrade"}, lambda_context)
    finally:
        release()

    assert result["applied"] == [HEAD]
    assert revision(db_env) == HEAD


_CONCURRENT_RUN = """
import json, sys
from pushgate_cli.handlers import load_handler
class Ctx:
    function_name = "run_migrations"; memory_limit_in_mb = 256; aws_request_id = sys.argv[1]
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:run_migrations"
    def get_remaining_time_in_millis(self):
        return 60000
handler = load_handler("run_migrations")
print("RESULT " + json.dumps(handler.lambda_handler({"action": "upgrade"}, Ctx())))
"""


def test_two_concurrent_upgrades_apply_each_revision_once(
    script_dir: ScriptDir, db_env: str
) -> None:
    """GIVEN two processes upgrading the same empty database at once (the last revision takes
    1 s and counts its runs) WHEN both finish THEN both succeed, the database is at head, and
    every revision was applied by exactly one of them, once."""
    script_dir.add_revision(
        "c0000000000c",
        HEAD,
        upgrade="""
            op.create_table("upgrade_runs", sa.Column("n", sa.Integer))
            op.execute("INSERT INTO upgrade_runs VALUES (1)")
            op.execute("SELECT pg_sleep(1)")
        """,
        downgrade='op.drop_table("upgrade_runs")',
    )
    env = {
        **os.environ,
        settings.DATABASE_URL: db_env,
        settings.MIGRATIONS_DIR: str(script_dir.path),
        settings.POWERTOOLS_SERVICE_NAME: "pushgate",
        settings.POWERTOOLS_METRICS_NAMESPACE: "Pushgate",
        settings.POWERTOOLS_TRACE_DISABLED: "true",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_RUN, f"run-{i}"],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        line = next(x for x in out.splitlines() if x.startswith("RESULT "))
        results.append(json.loads(line.removeprefix("RESULT ")))

    applied = sorted((r["applied"] for r in results), key=len)
    assert applied == [[], [*CHAIN, "c0000000000c"]]
    assert all(r["to_revision"] == "c0000000000c" for r in results)
    assert query(db_env, "SELECT count(*) FROM upgrade_runs") == [[1]]
    assert revision(db_env) == "c0000000000c"


# -- observability ---------------------------------------------------------------------------
def test_metrics_are_emitted(
    run_migrations: RunMigrations,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN an empty database WHEN upgraded THEN an EMF record in the Pushgate namespace holds
    the duration and the number of revisions applied."""
    _invoke(run_migrations(), {"action": "upgrade"}, lambda_context)

    records = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    emf = [r for r in records if "RevisionsApplied" in r]
    assert emf, records
    assert emf[-1]["RevisionsApplied"] == [3.0]
    assert emf[-1]["MigrationDurationMs"][0] > 0
    assert emf[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Pushgate"


def test_failures_are_counted(
    run_migrations: RunMigrations,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN a malformed request WHEN it fails THEN a MigrationFailures metric is emitted."""
    with pytest.raises(InvalidRequest):
        _invoke(run_migrations(), {"action": "nope"}, lambda_context)

    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"MigrationFailures"' in line]
    assert emf
    assert emf[-1]["MigrationFailures"] == [1.0]


# -- the CLI's schema helpers (pushgate_cli.schema), for the rehearsal ------------------------
def test_move_to_goes_either_way(database_url: str) -> None:
    """GIVEN an empty database WHEN moved to head, then to the first
    revision THEN it upgrades, then downgrades, and reports the revision each time."""
    up = move_to(database_url, MIGRATIONS, "head")
    at_head = current_revision(database_url)
    down = move_to(database_url, MIGRATIONS, revisions_of(MIGRATIONS)[0])

    assert head_of(MIGRATIONS) == HEAD
    assert (up["action"], up["applied"], at_head) == ("upgrade", CHAIN, HEAD)
    assert (down["action"], down["applied"]) == ("downgrade", [CHAIN[2], CHAIN[1]])
    assert current_revision(database_url) == CHAIN[0]
