"""The database: where it is, how to reach it, what went wrong. One module per job.

- :mod:`~pushgate.database.settings`: :class:`DatabaseSettings`, ``DATABASE_URL`` parsing and
  the tunables;
- :mod:`~pushgate.database.secret`: the Secrets Manager secret (RDS JSON format);
- :mod:`~pushgate.database.source`: which of the two a handler uses, validated at cold start;
- :mod:`~pushgate.database.connect`: pg8000 connections (connect timeout, TLS), and
  :func:`connected` (connect, search_path, classified failures, close);
- :mod:`~pushgate.database.classify`: SQLSTATE and exception type -> DatabaseNotReady (retry)
  or DatabaseConfigError (final), and :func:`reraise_classified`.

This package must stay light: ``check_database`` imports it and must not pay for alembic or
SQLAlchemy, so neither is imported here. The names below are its public API.
"""

from __future__ import annotations

from pushgate.database.classify import (
    classify_error,
    describe_error,
    reraise_classified,
    server_message,
    sqlstate,
)
from pushgate.database.connect import connect, connect_dbapi, connected
from pushgate.database.secret import (
    SECRET_MAX_AGE_SECONDS,
    fetch_secret_settings,
    settings_from_secret,
)
from pushgate.database.settings import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_SSLMODE,
    DatabaseSettings,
    SslMode,
    parse_database_url,
    read_connect_timeout,
    read_positive_number,
    read_sslmode,
)
from pushgate.database.source import DatabaseSource, load_database_source, with_settings

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_SSLMODE",
    "SECRET_MAX_AGE_SECONDS",
    "DatabaseSettings",
    "DatabaseSource",
    "SslMode",
    "classify_error",
    "connect",
    "connect_dbapi",
    "connected",
    "describe_error",
    "fetch_secret_settings",
    "load_database_source",
    "parse_database_url",
    "read_connect_timeout",
    "read_positive_number",
    "read_sslmode",
    "reraise_classified",
    "server_message",
    "settings_from_secret",
    "sqlstate",
    "with_settings",
]
