"""Move the schema safely: plan, upgrade, downgrade (the ``run_migrations`` Lambda's work).

Safety, in the order it happens:

1. One connection (pg8000 through SQLAlchemy, ``NullPool``), opened with the short connect
   timeout; its socket is then given a read timeout of ``statement_timeout`` + connect timeout.
2. A PostgreSQL *session* advisory lock on :data:`MIGRATION_LOCK_KEY` (per database) so two runs
   never migrate at once: ``pg_try_advisory_lock`` polled with jitter for at most
   ``MIGRATION_LOCK_WAIT_SECONDS`` (and never past the deadline) -> ``MigrationLockTimeout``.
3. The current revision is read. Already at the target -> nothing is applied (idempotent: a
   replay or a redrive is safe). Otherwise, with ``expected_current`` given and different from the
   current revision -> ``SchemaDrift``, nothing done.
4. All pending revisions run in ONE transaction (PostgreSQL DDL is transactional) with
   ``SET LOCAL lock_timeout`` and ``statement_timeout``; alembic's env.py receives the connection
   through ``config.attributes["connection"]`` (the cookbook's "sharing a connection" recipe).
   A failure anywhere rolls everything back: the database stays at ``from_revision``.
5. ``lock_not_available`` (SQLSTATE 55P03, the lock_timeout fired) retries the whole
   transaction up to :data:`LOCK_NOT_AVAILABLE_ATTEMPTS` times with jittered backoff, then
   ``MigrationLockTimeout`` (nothing done).
6. A deadline (the Lambda's, minus :data:`DEADLINE_MARGIN_SECONDS`) bounds every wait, caps
   ``statement_timeout`` and is checked before each statement: the run stops, rolls back and
   raises ``MigrationFailed`` instead of being killed mid-way.
7. Errors leave as pushgate errors, classified by SQLSTATE and type, never by message: losing
   the database (refused, reset, shut down, failed over), before or during the transaction, is
   ``DatabaseNotReady`` (the state machine retries it; a retry is safe, see 3); credentials
   refused before anything ran, ``DatabaseConfigError``; anything else, ``MigrationFailed``.

The alembic ``Config`` and ``ScriptDirectory`` (all revision files parsed) are built once per
process (cold start); an upgrade that finds the database already at the target does not even
load env.py. The version table is alembic's default ``alembic_version``.
"""

from __future__ import annotations

import ast
import functools
import inspect
import io
import random
import re
import textwrap
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, NotRequired, TypedDict, cast

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from aws_lambda_powertools import Logger
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from pushgate import settings
from pushgate.database import (
    DatabaseSettings,
    classify_error,
    connect_dbapi,
    parse_database_url,
    read_positive_number,
    reraise_classified,
    server_message,
    sqlstate,
)
from pushgate.errors import (
    DatabaseNotReady,
    InvalidRequest,
    MigrationFailed,
    MigrationLockTimeout,
    PushgateError,
    SchemaDrift,
)
from pushgate.readiness import VERSION_TABLE, check_database


@functools.cache
def _logger() -> Logger:
    """The service's logger (created on first use: the service name is read from the env)."""
    return Logger(child=True)


DEFAULT_LOCK_TIMEOUT_MS: Final = 3_000  # a DDL lock is waited for at most 3 s, then retried
DEFAULT_STATEMENT_TIMEOUT_MS: Final = 120_000  # no single statement runs longer than 2 min
DEFAULT_LOCK_WAIT_SECONDS: Final = 60.0  # how long to wait for another run's advisory lock
MIGRATION_LOCK_KEY: Final = int.from_bytes(b"pushgate", "big")  # 8103509996771308645
LOCK_POLL_SECONDS: Final = 0.25  # advisory lock polling interval (plus up to 50% jitter)
LOCK_NOT_AVAILABLE_ATTEMPTS: Final = 3  # tries of the whole transaction on SQLSTATE 55P03
LOCK_NOT_AVAILABLE_BACKOFF_SECONDS: Final = 0.5  # base of the full-jitter exponential backoff
DEADLINE_MARGIN_SECONDS: Final = 2.0  # stop this long before the Lambda's own timeout

Action = Literal["plan", "upgrade", "downgrade"]
ACTIONS: Final[tuple[Action, ...]] = ("plan", "upgrade", "downgrade")
_RELATIVE: Final = re.compile(r"^[+-][1-9][0-9]*$")
_LOCK_NOT_AVAILABLE: Final = "55P03"
_QUERY_CANCELED: Final = "57014"


class PendingRevision(TypedDict):
    revision: str
    down_revision: str | None
    description: str
    downgradable: bool


class MigrationResult(TypedDict):
    """The ``run_migrations`` contract (design.md, Contracts)."""

    action: Action
    from_revision: str | None
    to_revision: str | None
    applied: list[str]
    duration_ms: float
    pending: NotRequired[list[PendingRevision]]  # plan only
    sql: NotRequired[str]  # plan only


# -- settings and requests -------------------------------------------------------------------
def _positive_number(environ: Mapping[str, str], name: str, default: float) -> float:
    return read_positive_number(environ, name, default, InvalidRequest)


@dataclass(frozen=True, kw_only=True)
class MigrationSettings:
    """The migration tunables (documented defaults) and the script directory."""

    script_location: Path
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS

    @classmethod
    def from_env(
        cls, default_script_location: Path, environ: Mapping[str, str]
    ) -> MigrationSettings:
        """``MIGRATIONS_DIR`` (else ``default_script_location``) and the MIGRATION_* tunables."""
        location = Path(environ.get(settings.MIGRATIONS_DIR, "").strip() or default_script_location)
        if not (location / "env.py").is_file():
            raise InvalidRequest(
                f"{location} is not an alembic script directory (no env.py); "
                f"set {settings.MIGRATIONS_DIR}"
            )
        return cls(
            script_location=location,
            lock_timeout_ms=int(
                _positive_number(
                    environ, settings.MIGRATION_LOCK_TIMEOUT_MS, DEFAULT_LOCK_TIMEOUT_MS
                )
            ),
            statement_timeout_ms=int(
                _positive_number(
                    environ, settings.MIGRATION_STATEMENT_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS
                )
            ),
            lock_wait_seconds=_positive_number(
                environ, settings.MIGRATION_LOCK_WAIT_SECONDS, DEFAULT_LOCK_WAIT_SECONDS
            ),
        )


@dataclass(frozen=True)
class MigrationRequest:
    """A parsed ``run_migrations`` event."""

    action: Action
    target: str
    expected_current: str | None = None

    @classmethod
    def from_event(cls, event: Any) -> MigrationRequest:
        """``{"action", "target"?, "expected_current"?}``; raises InvalidRequest."""
        if not isinstance(event, Mapping):
            raise InvalidRequest("the event must be a JSON object with an 'action'")
        action = event.get("action")
        if action not in ACTIONS:
            raise InvalidRequest(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        target = event.get("target")
        if target is None:
            if action == "downgrade":
                raise InvalidRequest("a downgrade needs a target (a revision, 'base' or '-N')")
            target = "head"
        expected = event.get("expected_current")
        for name, value in (("target", target), ("expected_current", expected)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InvalidRequest(f"{name} must be a non-empty string, got {value!r}")
        return cls(
            action=cast(Action, action),
            target=str(target).strip(),
            expected_current=expected.strip() if isinstance(expected, str) else None,
        )


# -- helpers ---------------------------------------------------------------------------------
class _DeadlineReached(Exception):
    """Raised inside the transaction when the deadline is too close to run another statement."""


def _only_trivial(body: list[ast.stmt]) -> bool:
    """A function body that does nothing (docstring / pass / ...)."""
    return all(
        isinstance(node, ast.Pass)
        or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        for node in body
    )


class _SourceUnavailable(Exception):
    """A revision function whose source cannot be read (e.g. a sourceless .pyc)."""


def _function_body(module: Any, name: str) -> list[ast.stmt] | None:
    """The statements of ``module.name()``, or None when there is no such function."""
    fn = getattr(module, name, None)
    if fn is None:
        return None
    try:
        node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    except (OSError, TypeError, SyntaxError) as exc:
        raise _SourceUnavailable(name) from exc
    if not isinstance(node, ast.FunctionDef):
        raise _SourceUnavailable(name)
    return node.body


def has_working_downgrade(script: Script) -> bool:
    """Whether a revision can be undone: its downgrade() exists, does not just raise, and is not
    empty while its upgrade() does something. Source that cannot be read gets the benefit of the
    doubt (alembic would run it)."""
    try:
        down = _function_body(script.module, "downgrade")
        if down is None or (down and all(isinstance(node, ast.Raise) for node in down)):
            return False
        if _only_trivial(down):
            up = _function_body(script.module, "upgrade")
            return up is None or _only_trivial(up)
    except _SourceUnavailable:
        return True
    return True


def _rev(revisions: tuple[str, ...]) -> str | None:
    return ",".join(revisions) if revisions else None


def _detail(exc: BaseException) -> str:
    """What went wrong, for humans: the server's message and SQLSTATE when there is one."""
    code = sqlstate(exc)
    return server_message(exc) + (f" (SQLSTATE {code})" if code else "")


@dataclass(frozen=True)
class _Plan:
    direction: Literal["upgrade", "downgrade"]
    destination: str  # alembic destination for the step functions ("base", an id, "+N", "-N")
    steps: list[RevisionStep]
    to_revision: str | None


class Migrator:
    """Runs migrations from one alembic script directory. Build it once per process."""

    def __init__(self, migration_settings: MigrationSettings) -> None:
        self.settings = migration_settings
        self.config = Config()
        self.config.set_main_option("script_location", str(migration_settings.script_location))
        # offline SQL (plan) needs a dialect, never credentials
        self.config.set_main_option("sqlalchemy.url", "postgresql+pg8000://")
        location = migration_settings.script_location
        try:
            self.script = ScriptDirectory.from_config(self.config)
            self._heads = tuple(self.script.get_heads())  # parses every revision file, once
        except CommandError as exc:
            raise InvalidRequest(
                f"the alembic script directory {location} is broken: {exc}"
            ) from exc
        except Exception as exc:  # a revision file that cannot be imported: its own error
            raise InvalidRequest(
                f"a revision file in {location} cannot be loaded: {type(exc).__name__}: {exc} "
                "(revision files must import only what the function ships: alembic, "
                "SQLAlchemy, and the standard library)"
            ) from exc
        self._engines: dict[DatabaseSettings, Engine] = {}
        self._downgradable: dict[str, bool] = {}
        self._bound: DatabaseSettings | None = None

    # -- public ------------------------------------------------------------------------------
    def run(
        self, request: MigrationRequest, db: DatabaseSettings, *, deadline: float | None = None
    ) -> MigrationResult:
        """Plan, upgrade or downgrade. ``deadline``: a ``time.monotonic()`` instant (the Lambda's
        end); the run stops :data:`DEADLINE_MARGIN_SECONDS` before it."""
        started = time.perf_counter()
        stop_at = None if deadline is None else deadline - DEADLINE_MARGIN_SECONDS
        self._single_head()
        self._absolute_target(request.target)  # an unknown revision fails before connecting
        conn = self._connect(db)
        locked = False
        try:
            if request.action != "plan":
                self._acquire_lock(conn, stop_at)
                locked = True
            current = self._current(conn)
            conn.commit()
            result = self._run_locked(conn, request, current, stop_at)
        except PushgateError:
            raise
        except Exception as exc:  # before or around the migration's transaction: nothing changed
            classified = classify_error(exc)
            if classified is not None:
                raise classified from exc
            raise MigrationFailed(
                f"the {request.action} failed: {_detail(exc)}; nothing was changed"
            ) from exc
        finally:
            self._close(conn, locked)
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return result

    # -- conveniences for the CLI (rehearsal) ------------------------------------------------
    @classmethod
    def from_url(cls, url: str, script_location: Path) -> Migrator:
        """A migrator with default settings bound to the database at ``url``."""
        migrator = cls(MigrationSettings(script_location=Path(script_location)))
        migrator._bound = parse_database_url(url)
        return migrator

    def revisions_to_head(self) -> list[str]:
        """Every revision id from base to head."""
        return [s.revision for s in reversed(list(self.script.walk_revisions()))]

    def move_to(self, target: str, db: DatabaseSettings | None = None) -> MigrationResult:
        """Upgrade or downgrade (whichever it takes) to ``target``; the bound database by
        default."""
        settings_ = db or self._bound
        if settings_ is None:
            raise InvalidRequest("no database: pass db= or build the migrator with from_url()")
        absolute = self._absolute_target(target)
        current = self.current_revision(settings_)
        if absolute is None:
            up = target.startswith("+")
        else:
            self._check_known(current)
            up = self._is_ancestor(current, absolute[0])
        return self.run(MigrationRequest("upgrade" if up else "downgrade", target), settings_)

    @staticmethod
    def current_revision(db: DatabaseSettings) -> str | None:
        """The database's current revision (None: base / no version table)."""
        return check_database(db)["revision"]

    @staticmethod
    def current_revision_of(url: str) -> str | None:
        return Migrator.current_revision(parse_database_url(url))

    @classmethod
    def head_of(cls, script_location: Path) -> str:
        """The single head revision of an alembic script directory."""
        return cls(MigrationSettings(script_location=Path(script_location)))._single_head()

    # -- steps -------------------------------------------------------------------------------
    def _run_locked(
        self,
        conn: Connection,
        request: MigrationRequest,
        current: str | None,
        stop_at: float | None,
    ) -> MigrationResult:
        target = self._absolute_target(request.target)
        if target is not None and target[0] == current:
            return self._result(request.action, current, current, [])  # idempotent
        self._check_known(current)
        expected = request.expected_current
        if expected is not None and (None if expected == "base" else expected) != current:
            raise SchemaDrift(
                f"the database is at {current or 'base'}, expected {expected}; nothing done"
            )
        plan = self._plan(request, current)
        if request.action == "plan":
            result = self._result("plan", current, plan.to_revision, [])
            result["pending"] = [self._pending(step) for step in plan.steps]
            result["sql"] = self._offline_sql(plan, current)
            return result
        if not plan.steps:
            return self._result(request.action, current, current, [])
        applied = self._migrate(conn, plan, current, stop_at)
        _logger().info(
            "migration committed",
            extra={
                "action": request.action,
                "from_revision": current,
                "to_revision": plan.to_revision,
                "applied": applied,
            },
        )
        return self._result(request.action, current, plan.to_revision, applied)

    @staticmethod
    def _result(
        action: Action, current: str | None, to: str | None, applied: list[str]
    ) -> MigrationResult:
        result = MigrationResult(
            action=action, from_revision=current, to_revision=to, applied=applied, duration_ms=0.0
        )
        if action == "plan":  # filled in by the caller when something is pending
            result["pending"] = []
            result["sql"] = ""
        return result

    def _single_head(self) -> str:
        if not self._heads:
            raise InvalidRequest(f"{self.settings.script_location}/versions has no revisions")
        if len(self._heads) != 1:
            raise InvalidRequest(
                f"{self.settings.script_location} has {len(self._heads)} heads "
                f"({', '.join(self._heads)}); merge them first"
            )
        return self._heads[0]

    def _absolute_target(self, target: str) -> tuple[str | None] | None:
        """(revision or None for base) for an absolute target; None for a relative one."""
        if _RELATIVE.match(target):
            return None
        if target == "base":
            return (None,)
        if target == "head":
            return (self._single_head(),)
        try:
            script = self.script.get_revision(target)
        except CommandError as exc:
            raise InvalidRequest(f"unknown target revision {target!r}: {exc}") from exc
        if script is None:
            raise InvalidRequest(f"unknown target revision {target!r}")
        return (script.revision,)

    def _plan(self, request: MigrationRequest, current: str | None) -> _Plan:
        target = request.target
        absolute = self._absolute_target(target)
        if absolute is None:
            direction: Literal["upgrade", "downgrade"] = (
                "upgrade" if target.startswith("+") else "downgrade"
            )
            destination = target
        else:
            destination = absolute[0] or "base"
            direction = "upgrade" if self._is_ancestor(current, absolute[0]) else "downgrade"
        if request.action != "plan" and direction != request.action:
            raise InvalidRequest(
                f"{target} is {'below' if direction == 'downgrade' else 'above'} the current "
                f"revision {current or 'base'}: that is a {direction}, not an {request.action}"
            )
        try:
            if direction == "upgrade":
                steps = self.script._upgrade_revs(destination, current or "base")
            else:
                steps = self.script._downgrade_revs(destination, current)
        except CommandError as exc:
            raise InvalidRequest(f"cannot {direction} to {target} from {current}: {exc}") from exc
        if direction == "upgrade":
            to_revision = steps[-1].revision.revision if steps else current
        else:
            to_revision = _rev(steps[-1].to_revisions) if steps else current
        return _Plan(direction, destination, steps, to_revision)

    def _is_ancestor(self, lower: str | None, upper: str | None) -> bool:
        """Whether ``lower`` is ``upper`` or below it (None is base, below everything)."""
        if lower is None:
            return True
        if upper is None:
            return False
        return any(s.revision == lower for s in self.script.iterate_revisions(upper, "base"))

    def _pending(self, step: RevisionStep) -> PendingRevision:
        script = step.revision
        if script.revision not in self._downgradable:
            self._downgradable[script.revision] = has_working_downgrade(script)
        down = script.down_revision
        return PendingRevision(
            revision=script.revision,
            down_revision=down if isinstance(down, str) or down is None else ",".join(down),
            description=script.doc,
            downgradable=self._downgradable[script.revision],
        )

    def _offline_sql(self, plan: _Plan, current: str | None) -> str:
        if not plan.steps:
            return ""
        buffer = io.StringIO()

        def steps(rev: Any, context: MigrationContext) -> list[RevisionStep]:
            return plan.steps

        with EnvironmentContext(
            self.config,
            self.script,
            fn=steps,
            as_sql=True,
            starting_rev=current,
            destination_rev=plan.destination,
            output_buffer=buffer,
        ):
            self.script.run_env()
        return buffer.getvalue()

    # -- database ----------------------------------------------------------------------------
    def _engine(self, db: DatabaseSettings) -> Engine:
        engine = self._engines.get(db)
        if engine is None:
            # the URL only names the dialect and driver (no credentials): pushgate.db opens the
            # connection itself (TLS mode, connect timeout, errors classified as
            # DatabaseNotReady/DatabaseConfigError). One engine per settings: its dialect
            # initialisation (a few queries) runs once per process, not once per invocation.
            engine = create_engine(
                URL.create("postgresql+pg8000"),
                poolclass=NullPool,
                creator=lambda: connect_dbapi(db, "pushgate-migrations"),
            )
            self._engines = {db: engine}  # settings changed (secret rotated): drop the old one
        return engine

    def _connect(self, db: DatabaseSettings) -> Connection:
        with reraise_classified():
            conn = self._engine(db).connect()
        # a statement may legitimately run for statement_timeout: only then is the socket dead
        raw = conn.connection.dbapi_connection
        sock = getattr(raw, "_usock", None)
        if sock is not None:
            sock.settimeout(self.settings.statement_timeout_ms / 1000 + db.connect_timeout)
        return conn

    @staticmethod
    def _close(conn: Connection, locked: bool) -> None:
        try:
            if conn.in_transaction():
                conn.rollback()
            if locked:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()
        except Exception:  # the session's locks go with it anyway
            _logger().warning("could not release the migration lock cleanly", exc_info=True)
        finally:
            conn.close()

    def _acquire_lock(self, conn: Connection, stop_at: float | None) -> None:
        started = time.monotonic()
        give_up = started + self.settings.lock_wait_seconds
        if stop_at is not None:
            give_up = min(give_up, stop_at)
        attempts = 0
        while True:
            attempts += 1
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            ).scalar()
            if got:
                if attempts > 1:
                    _logger().info(
                        "migration lock acquired after waiting",
                        extra={"waited_s": round(time.monotonic() - started, 3)},
                    )
                return
            now = time.monotonic()
            if now >= give_up:
                raise MigrationLockTimeout(
                    f"another run holds the migration lock (advisory lock {MIGRATION_LOCK_KEY}); "
                    f"gave up after {now - started:.1f} s; nothing done"
                )
            if attempts == 1:
                _logger().info("waiting for the migration lock held by another run")
            pause = LOCK_POLL_SECONDS * (1 + random.random() / 2)  # noqa: S311 - jitter
            time.sleep(max(0.0, min(pause, give_up - now)))

    @staticmethod
    def _current(conn: Connection) -> str | None:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        heads = context.get_current_heads()
        if len(heads) > 1:
            raise SchemaDrift(f"the database has several current revisions: {', '.join(heads)}")
        return heads[0] if heads else None

    def _check_known(self, current: str | None) -> None:
        if current is None:
            return
        try:
            self.script.get_revision(current)
        except CommandError as exc:
            raise SchemaDrift(
                f"the database is at {current}, a revision this script directory does not know "
                "(a newer release migrated it?); nothing done"
            ) from exc

    def _migrate(
        self, conn: Connection, plan: _Plan, current: str | None, stop_at: float | None
    ) -> list[str]:
        for attempt in range(1, LOCK_NOT_AVAILABLE_ATTEMPTS + 1):
            running: list[RevisionStep] = []  # the step being run, while one is
            try:
                self._transaction(conn, plan, stop_at, running)
                return [step.revision.revision for step in plan.steps]
            except Exception as exc:
                if conn.in_transaction():
                    conn.rollback()
                self._raise_for(exc, running[-1] if running else None, current, attempt, stop_at)
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for(
        self,
        exc: Exception,
        failed: RevisionStep | None,
        current: str | None,
        attempt: int,
        stop_at: float | None,
    ) -> None:
        """Map a failed transaction to a pushgate error, or return to retry it (55P03)."""
        where = (
            f"revision {failed.revision.revision} ({failed.revision.doc})"
            if failed is not None
            else "the migration"
        )
        left = f"the transaction was rolled back; the database is left at {current or 'base'}"
        code = sqlstate(exc)
        if isinstance(exc, PushgateError):
            raise exc
        if isinstance(exc, _DeadlineReached):
            raise MigrationFailed(f"stopped in {where} before the Lambda deadline; {left}") from exc
        if code == _LOCK_NOT_AVAILABLE:
            pause = random.uniform(  # noqa: S311 - jitter
                0, LOCK_NOT_AVAILABLE_BACKOFF_SECONDS * 2 ** (attempt - 1)
            )
            time_left = None if stop_at is None else stop_at - time.monotonic()
            if attempt < LOCK_NOT_AVAILABLE_ATTEMPTS and (time_left is None or time_left > pause):
                _logger().warning(
                    "a table lock was not available; retrying the whole migration",
                    extra={"revision": where, "attempt": attempt, "pause_s": round(pause, 3)},
                )
                time.sleep(pause)
                return
            raise MigrationLockTimeout(
                f"{where} could not get a table lock within lock_timeout="
                f"{self.settings.lock_timeout_ms} ms after {attempt} attempt(s); {left}"
            ) from exc
        if code == _QUERY_CANCELED:
            near_deadline = stop_at is not None and time.monotonic() >= stop_at - 0.1
            why = (
                "to stop before the Lambda deadline"
                if near_deadline
                else f"by statement_timeout={self.settings.statement_timeout_ms} ms"
            )
            raise MigrationFailed(f"{where} was cancelled {why}; {left}") from exc
        # lost the connection, a failover, a shutdown: all rolled back, so worth retrying
        classified = classify_error(exc)
        if isinstance(classified, DatabaseNotReady):
            raise DatabaseNotReady(
                f"lost the database during {where}: {classified}; {left}"
            ) from exc
        raise MigrationFailed(f"{where} failed: {_detail(exc)}; {left}") from exc

    def _transaction(
        self,
        conn: Connection,
        plan: _Plan,
        stop_at: float | None,
        running: list[RevisionStep],
    ) -> None:
        statement_timeout_ms = self.settings.statement_timeout_ms
        if stop_at is not None:
            budget_ms = int((stop_at - time.monotonic()) * 1000)
            if budget_ms <= 0:
                raise _DeadlineReached()
            statement_timeout_ms = min(statement_timeout_ms, budget_ms)
        effective = [statement_timeout_ms]

        def before_execute(
            conn_: Connection, cursor: Any, statement: str, *args: Any, **kwargs: Any
        ) -> None:
            if stop_at is None:
                return
            budget_ms = int((stop_at - time.monotonic()) * 1000)
            if budget_ms <= 0:
                raise _DeadlineReached()
            if budget_ms < effective[0]:  # keep every statement inside the deadline
                cursor.execute(f"SET LOCAL statement_timeout = {budget_ms}")
                effective[0] = budget_ms

        def tracked(rev: Any, context: MigrationContext) -> Iterator[RevisionStep]:
            for step in plan.steps:
                running[:] = [step]
                _logger().info(
                    "running revision",
                    extra={
                        "revision": step.revision.revision,
                        "direction": plan.direction,
                        "description": step.revision.doc,
                    },
                )
                yield step

        event.listen(conn, "before_cursor_execute", before_execute)
        try:
            with conn.begin():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {self.settings.lock_timeout_ms}")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {statement_timeout_ms}")
                self.config.attributes["connection"] = conn
                try:
                    with EnvironmentContext(
                        self.config,
                        self.script,
                        fn=tracked,
                        destination_rev=plan.destination,
                    ):
                        self.script.run_env()
                finally:
                    self.config.attributes.pop("connection", None)
                running.clear()
                reached = self._current(conn)
                if reached != plan.to_revision:
                    raise MigrationFailed(
                        f"the migration ended at {reached or 'base'}, not at "
                        f"{plan.to_revision or 'base'} (does env.py use the shared connection?)"
                    )
        finally:
            event.remove(conn, "before_cursor_execute", before_execute)


__all__ = [
    "DEADLINE_MARGIN_SECONDS",
    "DEFAULT_LOCK_TIMEOUT_MS",
    "DEFAULT_LOCK_WAIT_SECONDS",
    "DEFAULT_STATEMENT_TIMEOUT_MS",
    "MIGRATION_LOCK_KEY",
    "MigrationRequest",
    "MigrationResult",
    "MigrationSettings",
    "Migrator",
    "PendingRevision",
    "has_working_downgrade",
]
