"""Alembic environment of the service's schema.

Follows alembic's "sharing a connection" cookbook recipe: when the caller (pushgate's
run_migrations) puts a Connection in ``config.attributes["connection"]``, that connection, and
the transaction the caller began on it, are used as they are. pytest-alembic puts an Engine
there instead: it is connected to. Otherwise (the ``alembic`` command line) an engine is built
from the ini file's ``sqlalchemy.url``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, Engine, engine_from_config

config = context.config

if config.config_file_name is not None:  # the alembic command line; pushgate has no ini
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# The service's models are not part of this repository: no autogenerate metadata here.
target_metadata = None


def run_migrations_offline() -> None:
    """Emit the SQL to stdout or the caller's buffer (``--sql``; pushgate's ``plan``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    shared = config.attributes.get("connection", None)
    if isinstance(shared, Connection):
        do_run_migrations(shared)
        return
    connectable: Engine = shared or engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
