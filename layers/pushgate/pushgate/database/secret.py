"""The database secret: Secrets Manager's RDS JSON format, fetched with Powertools.

The secret holds ``host``, ``port``, ``username``, ``password`` and ``dbname``. It is fetched
with Powertools' ``get_secret`` and cached for :data:`SECRET_MAX_AGE_SECONDS`. A passing AWS
problem (throttled, unreachable) is :class:`~pushgate.errors.DatabaseNotReady`; everything else
about the secret is :class:`~pushgate.errors.DatabaseConfigError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from pushgate.database.settings import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_SSLMODE,
    DatabaseSettings,
    SslMode,
)
from pushgate.errors import DatabaseConfigError, DatabaseNotReady

SECRET_MAX_AGE_SECONDS: Final = 300
SECRET_KEYS: Final = ("host", "port", "username", "password", "dbname")
# Secrets Manager failures worth retrying (everything else about the secret is final)
_TRANSIENT_AWS_CODES: Final = frozenset(
    {"ThrottlingException", "InternalServiceError", "RequestLimitExceeded", "ServiceUnavailable"}
)


def settings_from_secret(
    secret: Any,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    sslmode: SslMode = DEFAULT_SSLMODE,
) -> DatabaseSettings:
    """Settings from an RDS-format secret (a JSON object). Raises DatabaseConfigError."""
    if not isinstance(secret, Mapping):
        raise DatabaseConfigError("the database secret is not a JSON object")
    missing = [key for key in SECRET_KEYS if secret.get(key) in (None, "")]
    if missing:
        raise DatabaseConfigError(f"the database secret has no {', '.join(missing)}")
    try:
        port = int(secret["port"])
    except (TypeError, ValueError):
        raise DatabaseConfigError("the database secret's port is not a number") from None
    return DatabaseSettings(
        host=str(secret["host"]),
        port=port,
        user=str(secret["username"]),
        password=str(secret["password"]),
        database=str(secret["dbname"]),
        connect_timeout=connect_timeout,
        sslmode=sslmode,
    )


def _aws_error_is_transient(exc: BaseException) -> bool:
    """Whether a Powertools parameters error was caused by a passing AWS problem."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionError | HTTPClientError):
            return True
        if isinstance(seen, ClientError):
            return seen.response.get("Error", {}).get("Code") in _TRANSIENT_AWS_CODES
        seen = seen.__cause__ or seen.__context__
    return False


def fetch_secret_settings(
    arn: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    sslmode: SslMode = DEFAULT_SSLMODE,
    force_fetch: bool = False,
) -> DatabaseSettings:
    """Settings from the Secrets Manager secret ``arn`` (cached by Powertools)."""
    from aws_lambda_powertools.utilities import parameters

    # botocore logs every response body at DEBUG: GetSecretValue's holds the password. With the
    # function's log level at DEBUG (troubleshooting), that would put it in CloudWatch.
    logging.getLogger("botocore.parsers").setLevel(logging.INFO)
    try:
        secret = parameters.get_secret(
            arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force_fetch
        )
    except parameters.exceptions.TransformParameterError:
        raise DatabaseConfigError("the database secret is not valid JSON") from None
    except parameters.exceptions.GetParameterError as exc:
        if _aws_error_is_transient(exc):
            raise DatabaseNotReady(f"Secrets Manager is not answering: {exc}") from exc
        raise DatabaseConfigError(f"cannot read the database secret: {exc}") from exc
    return settings_from_secret(secret, connect_timeout=connect_timeout, sslmode=sslmode)
