"""Lambda ``run_migrations``: plan, upgrade or downgrade the schema, safely.

Event ``{"action": "plan"|"upgrade"|"downgrade", "target": str?, "expected_current": str?,
"image": {"registry", "repository", "digest", "platform"?}?, "serving_image": {...}?,
"serving_containers": {"container", "names", "images"}?}``, or ``{"action": "revert",
"from_revision": str|null, "image"?}`` (back to the run's starting revision, only if this run
moved it), or ``{"action": "read", "image"?}``: the scripts read and checked, no database
touched (the definition's "Read the image's scripts", before the deployment lock), answered
``{"action": "read", "image", "head", "revisions"}`` (bundled: ``image`` null). The task
runner's read-only ``check_upgrade`` (before its task: schema_ahead, or SchemaDrift),
``inspect`` and ``check_revert`` (pushgate.migrator.inspect) run nothing. Otherwise
returns ``{"action", "from_revision", "to_revision", "applied", "duration_ms", "schema_ahead"}``
(plan: also ``pending`` and ``sql``; scripts read from an image: ``image``). An older image
over a newer schema: when the database is at a revision this image's scripts do not know and
the serving image's scripts know it as a descendant of this image's head, nothing runs and the
result says ``schema_ahead: true``; otherwise SchemaDrift. Raises
MigrationFailed, MigrationLockTimeout, MigrationOutcomeUnknown, SchemaDrift, InvalidRequest,
InvalidImage, DatabaseNotReady, DatabaseConfigError (pushgate.errors). See pushgate.migrator.

Where the scripts come from is MIGRATIONS_SOURCE (template parameter MigrationsSource):

- ``image`` (the default): the project under MIGRATIONS_PATH in the event's image, read by
  digest (pushgate.image, imported by this function only), cached under /tmp and kept built
  per digest across warm invocations; a downgrade naming the same digest runs the same scripts.
- ``bundled``: ``migrations/`` beside this file (a symlink to the repository's ``migrations/``,
  so it ships in the function package) unless MIGRATIONS_DIR names another (a project root with
  alembic.ini or pyproject.toml, or a script directory), parsed once at cold start.

Revisions run in pushgate's own alembic environment, never the project's env.py.
VERSION_TABLE, VERSION_TABLE_SCHEMA and MIGRATION_SEARCH_PATH say where the revision is kept.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pushgate.database import DatabaseSource, load_database_source, with_settings
from pushgate.errors import DatabaseConfigError, InvalidRequest, PushgateError
from pushgate.migrator import MigrationRequest, MigrationResult
from pushgate.migrator.request import ScriptsRead

if TYPE_CHECKING:
    from pushgate.image.migrators import BundledMigrator, ChosenScripts, ImageMigrators

logger = Logger()
metrics = Metrics()
# No Powertools Tracer here, on purpose: importing the X-Ray SDK builds its recorder and a
# botocore X-Ray client, about 150 ms of every cold start (`make bench`), and this function's
# work is SQL, which the SDK does not trace. Lambda's active tracing (template Globals) still
# records each invocation and its init phase; prepare_rollout, whose work is AWS calls, keeps
# the Tracer.

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _cold_start() -> BundledMigrator | ImageMigrators | InvalidRequest:
    """MIGRATIONS_SOURCE bundled: the package's scripts, parsed now; image: a reader, each
    digest's scripts read on first use (pushgate.image.migrators.migrators_from_env)."""
    try:
        from pushgate.image.migrators import migrators_from_env

        return migrators_from_env(DEFAULT_MIGRATIONS_DIR, os.environ)
    except InvalidRequest as exc:
        return exc


# cold start: settings validated and every revision file parsed once per process
SOURCE: DatabaseSource | DatabaseConfigError = load_database_source()
MIGRATORS: BundledMigrator | ImageMigrators | InvalidRequest = _cold_start()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> MigrationResult | ScriptsRead:
    started = time.perf_counter()
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    result: MigrationResult | ScriptsRead
    try:
        if isinstance(MIGRATORS, InvalidRequest):
            raise InvalidRequest(str(MIGRATORS))
        request = MigrationRequest.from_event(event)
        metrics.add_dimension(name="action", value=request.action)
        logger.append_keys(action=request.action, target=request.target)
        chosen = MIGRATORS.for_request(request)  # InvalidImage before the database is touched
        if chosen.scripts is not None:
            logger.info(
                "migrations read from image",
                extra={**chosen.scripts.to_meta(), "cached": chosen.scripts.cached},
            )
        if request.action == "read":  # before the deployment lock: no database
            result = chosen.answer()
        else:
            if isinstance(SOURCE, DatabaseConfigError):
                raise DatabaseConfigError(str(SOURCE))
            result = _migrate(request, chosen, MIGRATORS, SOURCE, deadline)
    except PushgateError as exc:
        metrics.add_metric(name="MigrationFailures", unit=MetricUnit.Count, value=1)
        logger.error(
            "migration request failed", extra={"error_type": type(exc).__name__, "error": str(exc)}
        )
        raise
    finally:
        metrics.add_metric(
            name="MigrationDurationMs",
            unit=MetricUnit.Milliseconds,
            value=(time.perf_counter() - started) * 1000,
        )
    logger.info(
        "migration request done",
        extra={k: v for k, v in result.items() if k not in ("sql", "revisions")},
    )
    return result


def _migrate(
    request: MigrationRequest,
    chosen: ChosenScripts,
    migrators: BundledMigrator | ImageMigrators,
    source: DatabaseSource,
    deadline: float,
) -> MigrationResult:
    """Plan, upgrade, downgrade or revert with the chosen scripts, on the database."""
    migrator = chosen.migrator
    ahead = migrators.ahead_check(request)
    result = with_settings(
        source, lambda db: migrator.run(request, db, deadline=deadline, ahead=ahead)
    )
    if chosen.scripts is not None:
        result["image"] = chosen.scripts.image
    metrics.add_metric(name="RevisionsApplied", unit=MetricUnit.Count, value=len(result["applied"]))
    return result
