"""Lambda ``check_database``: is the database ready to be migrated?

Event: anything (the execution input is fine). Returns the contract of design.md
``{"ready", "server_version", "in_recovery", "revision", "latency_ms"}``; raises
``DatabaseNotReady`` (retryable) or ``DatabaseConfigError`` (final).

Cold start is deliberately light: no alembic, no SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pushgate.db import DatabaseSource, load_database_source, with_settings
from pushgate.errors import DatabaseConfigError, DatabaseNotReady
from pushgate.readiness import Readiness, check_database

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # patch_all would import SQLAlchemy

# cold start: validate the settings once; a bad configuration fails every invocation clearly
SOURCE: DatabaseSource | DatabaseConfigError = load_database_source()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> Readiness:
    if isinstance(SOURCE, DatabaseConfigError):
        logger.error("database settings are invalid", extra={"error": str(SOURCE)})
        raise DatabaseConfigError(str(SOURCE))
    try:
        result = with_settings(SOURCE, check_database)
    except (DatabaseNotReady, DatabaseConfigError) as exc:
        logger.warning(
            "database not usable",
            extra={
                "error_type": type(exc).__name__,
                "error": str(exc),
                "source": SOURCE.description,
            },
        )
        raise
    logger.info("database ready", extra={**result, "source": SOURCE.description})
    return result
