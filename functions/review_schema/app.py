"""Lambda ``review_schema``: review the schema change before it runs (issue 11).

Event ``{"from_revision": str|null, "server_version": str|null, "image"?: {"registry",
"repository", "digest", "platform"?}}``: the database's revision and version ("Check
database") and the pushed image, as "Run migrations" gets it. The scripts are the ones
run_migrations would run, built the same way (pushgate.image.migrators.migrators_from_env:
MIGRATIONS_SOURCE image by digest, or the bundled ``migrations/`` beside this file). Each
revision from ``from_revision`` to head is rendered offline, upgrade and downgrade, in
pushgate's own alembic environment and linted by squawk (SQUAWK_PATH, the squawk layer's
/opt/bin/squawk); see pushgate.review.

Returns the review (pushgate.review.full_result): ``policy``, ``verdict``, ``destructive``,
``counts``, ``findings`` (the first few; the definition keeps these as ``$.review``),
``accepted``, ``squawk``, every revision's findings as far as a bounded size allows, and
``image`` when the scripts came from one. Raises SchemaChangeRejected (SCHEMA_POLICY enforce
and a breaks-serving revision that does not accept the rule), SchemaReviewFailed (squawk
missing, crashing, or without its JSON report), InvalidRequest, InvalidImage.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pushgate.errors import InvalidRequest, PushgateError
from pushgate.review import SchemaReviewer, enforce, full_result, reviewer_from_env, summary
from pushgate.review.request import ReviewRequest

if TYPE_CHECKING:
    from pushgate.image.migrators import BundledMigrator, ImageMigrators

logger = Logger()
# No Powertools Tracer, as in run_migrations: its work is rendering SQL and one squawk process.

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _migrators() -> BundledMigrator | ImageMigrators | InvalidRequest:
    try:
        from pushgate.image.migrators import migrators_from_env

        return migrators_from_env(DEFAULT_MIGRATIONS_DIR, os.environ)
    except InvalidRequest as exc:
        return exc


def _reviewer() -> SchemaReviewer | InvalidRequest:
    try:
        return reviewer_from_env(os.environ)
    except InvalidRequest as exc:  # a setting
        return exc


# cold start: the settings validated, the bundled scripts parsed, once (squawk is asked by
# each review: missing, it is SchemaReviewFailed)
MIGRATORS: BundledMigrator | ImageMigrators | InvalidRequest = _migrators()
REVIEWER: SchemaReviewer | InvalidRequest = _reviewer()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        reviewer, migrators = REVIEWER, MIGRATORS
        if isinstance(reviewer, InvalidRequest):
            raise InvalidRequest(str(reviewer))
        if isinstance(migrators, InvalidRequest):
            raise InvalidRequest(str(migrators))
        request = ReviewRequest.from_event(event)
        chosen = migrators.for_request(request.scripts)  # InvalidImage: nothing reviewed
        review = reviewer.review_graph(
            chosen.migrator.graph, request.from_revision, request.server_version
        )
        logger.info("schema reviewed", extra={"review": summary(review)})
        enforce(review)
    except PushgateError as exc:
        logger.error(
            "schema review failed or rejected",
            extra={"error_type": type(exc).__name__, "error": str(exc)},
        )
        raise
    result = full_result(review)
    if chosen.scripts is not None:
        result["image"] = chosen.scripts.image
    return result
