"""A revision that needs a PostgreSQL extension the server does not have: say so.

When a failed statement is ``CREATE EXTENSION`` (read from the statement pushgate sent, never
from the server's message), the server's ``pg_available_extensions`` is asked whether it has
that extension at all; only a verified absence is reported.
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import Connection

_CREATE_EXTENSION: Final = re.compile(
    r"^\s*CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\"((?:[^\"]|\"\")+)\"|([A-Za-z_][\w$]*))",
    re.IGNORECASE,
)


def extension_of(statement: str) -> str | None:
    """The extension a ``CREATE EXTENSION`` statement creates (None: another statement)."""
    match = _CREATE_EXTENSION.match(statement)
    if match is None:
        return None
    return match.group(1).replace('""', '"') if match.group(1) else match.group(2).lower()


def missing_extension(conn: Connection, failure: BaseException) -> str | None:
    """A note when ``failure`` is a CREATE EXTENSION of an extension this server does not have
    (checked in ``pg_available_extensions``); None otherwise or when it cannot be checked."""
    statement = getattr(failure, "statement", None)
    name = extension_of(statement) if isinstance(statement, str) else None
    if name is None:
        return None
    try:
        available = conn.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name = :name"), {"name": name}
        ).first()
        conn.commit()
    except Exception:  # the connection is gone: say nothing we did not check
        return None
    if available is not None:
        return None
    return (
        f"this PostgreSQL server does not have the extension {name!r} installed (it is not in "
        "pg_available_extensions); RDS offers it, a self-managed server needs its package "
        "(Debian: postgresql-contrib)"
    )
