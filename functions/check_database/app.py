"""Lambda ``check_database``: is the database ready to be migrated?

Event: anything (the execution input is fine). Returns the contract of docs/design.md
``{"ready", "server_version", "in_recovery", "revision", "latency_ms"}``; raises
``DatabaseNotReady`` (retryable) or ``DatabaseConfigError`` (final).

Cold start is deliberately light: no alembic, no SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pushgate.database import DatabaseSource, load_database_source, with_settings
from pushgate.errors import DatabaseConfigError, DatabaseNotReady
from pushgate.readiness import Readiness, check_database

logger = Logger()
# No Powertools Tracer here, on purpose: importing the X-Ray SDK builds its recorder and a
# botocore X-Ray client, about 150 ms of every cold start (`make bench`), and this function's
# work is SQL, which the SDK does not trace. Lambda's active tracing (template Globals) still
# records each invocation and its init phase; prepare_rollout, whose work is AWS calls, keeps
# the Tracer.

# cold start: validate the settings once; a bad configuration fails every invocation clearly
SOURCE: DatabaseSource | DatabaseConfigError = load_database_source()


@logger.inject_lambda_context(clear_state=True)
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
