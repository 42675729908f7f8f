"""Lambda ``run_migrations``: read, review, plan, upgrade or downgrade the schema, safely.

Event ``{"action": "plan"|"upgrade"|"downgrade", "target": str?, "expected_current": str?,
"image": {"registry", "repository", "digest", "platform"?}?, "serving_image": {...}?,
"serving_containers": {"container", "names", "images"}?}``, or ``{"action": "revert",
"from_revision": str|null, "image"?}`` (back to the run's starting revision, only if this run
moved it), or ``{"action": "read", "image"?}``: the scripts read and checked, no database
touched (the definition's "Read the image's scripts", before the deployment lock), answered
``{"action": "read", "image", "head", "revisions"}`` (bundled: ``image`` null), or
``{"action": "review", "from_revision": str|null, "server_version": str|null, "image"?}``:
the pending revisions' offline SQL linted by squawk (the definition's "Review the schema
change"; pushgate.review), no database touched, with the scripts the read left built in this
execution environment (one image read per deploy), answered with the review
(pushgate.review.full_result, plus ``image``). The task runner's read-only ``check_upgrade``
(before its task: schema_ahead, or SchemaDrift), ``inspect`` and ``check_revert``
(pushgate.migrator.inspect) run nothing. Otherwise returns ``{"action",
"from_revision", "to_revision", "applied", "duration_ms", "schema_ahead"}`` (plan: also
``pending`` and ``sql``; scripts read from an image: ``image``). An older image over a newer
schema: when the database is at a revision this image's scripts do not know and the serving
image's scripts know it as a descendant of this image's head, nothing runs and the result says
``schema_ahead: true``; otherwise SchemaDrift. Raises MigrationFailed, MigrationLockTimeout,
MigrationOutcomeUnknown, SchemaDrift, InvalidRequest, InvalidImage, DatabaseNotReady,
DatabaseConfigError (pushgate.errors); the review SchemaChangeRejected (SCHEMA_POLICY enforce
and a breaks-serving revision that does not accept the rule) and SchemaReviewFailed (squawk,
SQUAWK_PATH, missing, crashing or without its JSON report). See pushgate.migrator.

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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pushgate.database import DatabaseSource, load_database_source, with_settings
from pushgate.errors import DatabaseConfigError, InvalidRequest, PushgateError
from pushgate.migrator import MigrationRequest, MigrationResult
from pushgate.migrator.request import ACTIONS, ScriptsRead
from pushgate.review import SchemaReviewer, enforce, full_result, reviewer_from_env, summary
from pushgate.review.request import REVIEW, ReviewRequest

if TYPE_CHECKING:  # annotations only (LambdaContext's import is ~2 ms of every cold start)
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pushgate.image.migrators import BundledMigrator, ChosenScripts, ImageMigrators

    Scripts = BundledMigrator | ImageMigrators

Result = MigrationResult | ScriptsRead | dict[str, Any]

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


def _reviewer() -> SchemaReviewer | InvalidRequest:
    """SCHEMA_POLICY and SQUAWK_PATH (the review's only): a bad one fails reviews, nothing else."""
    try:
        return reviewer_from_env(os.environ)
    except InvalidRequest as exc:
        return exc


# cold start: settings validated and every revision file parsed once per process; pushgate.review
# imported here too (cheap beside alembic, and the layer's byte code is traced from cold starts)
SOURCE: DatabaseSource | DatabaseConfigError = load_database_source()
MIGRATORS: BundledMigrator | ImageMigrators | InvalidRequest = _cold_start()
REVIEWER: SchemaReviewer | InvalidRequest = _reviewer()


def _action(event: Any) -> str:
    """The event's action, one this function knows; InvalidRequest otherwise."""
    if not isinstance(event, Mapping):
        raise InvalidRequest("the event must be a JSON object with an 'action'")
    known = (*ACTIONS, REVIEW)
    action = event.get("action")
    if not isinstance(action, str) or action not in known:
        raise InvalidRequest(f"action must be one of {', '.join(known)}, got {action!r}"[:300])
    return action


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> Result:
    started = time.perf_counter()
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    try:
        if isinstance(MIGRATORS, InvalidRequest):
            raise InvalidRequest(str(MIGRATORS))
        action = _action(event)
        metrics.add_dimension(name="action", value=action)
        logger.append_keys(action=action)
        result: Result
        if action == REVIEW:  # this function's own; every other action is the migrator's
            result = _review(event, MIGRATORS)
        else:
            result = _migration(event, MIGRATORS, deadline)
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
        extra={k: v for k, v in result.items() if k not in ("sql", "revisions", "findings")},
    )
    return result


def _scripts(scripts: Scripts, request: MigrationRequest) -> ChosenScripts:
    """The request's scripts (InvalidImage before the database is touched), logged."""
    chosen = scripts.for_request(request)
    if chosen.scripts is not None:
        logger.info(
            "migrations read from image",
            extra={**chosen.scripts.to_meta(), "cached": chosen.scripts.cached},
        )
    return chosen


def _migration(event: Any, scripts: Scripts, deadline: float) -> MigrationResult | ScriptsRead:
    """A read (the scripts, no database), or a plan, upgrade, downgrade or revert."""
    request = MigrationRequest.from_event(event)
    logger.append_keys(target=request.target)
    chosen = _scripts(scripts, request)
    if request.action == "read":  # before the deployment lock: no database
        return chosen.answer()
    if isinstance(SOURCE, DatabaseConfigError):
        raise DatabaseConfigError(str(SOURCE))
    return _migrate(request, chosen, scripts, SOURCE, deadline)


def _review(event: Any, scripts: Scripts) -> dict[str, Any]:
    """The review of the pending revisions (pushgate.review), with the scripts the read built;
    SchemaChangeRejected under enforce, after the summary is logged. No database."""
    if isinstance(REVIEWER, InvalidRequest):
        raise InvalidRequest(str(REVIEWER))
    request = ReviewRequest.from_event(event)
    chosen = _scripts(scripts, request.scripts)
    review = REVIEWER.review_graph(
        chosen.migrator.graph, request.from_revision, request.server_version
    )
    logger.info("schema reviewed", extra={"review": summary(review)})
    enforce(review)
    result = full_result(review)
    if chosen.scripts is not None:
        result["image"] = chosen.scripts.image
    return result


def _migrate(
    request: MigrationRequest,
    chosen: ChosenScripts,
    migrators: Scripts,
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
