"""Where the schema's revision is kept: the version table, its schema and the search_path.

What a project's env.py carries that matters to a run becomes a setting (docs/design.md):
``VERSION_TABLE`` (default alembic's ``alembic_version``), ``VERSION_TABLE_SCHEMA`` (default
none: the table is found through the search_path, as alembic does) and
``MIGRATION_SEARCH_PATH`` (default: the role's own). ``check_database`` reads the same table
as ``run_migrations`` writes, so both read these, here. Imports neither alembic nor SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pushgate import settings
from pushgate.errors import InvalidRequest

DEFAULT_VERSION_TABLE: Final = "alembic_version"  # alembic's default
_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")  # unquoted, <= 63 bytes
_USER: Final = "$user"  # search_path's "the role's own schema"


def quote_ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _identifier(name: str, value: str, *, allow_user: bool = False) -> str:
    if _IDENTIFIER.match(value) or (allow_user and value == _USER):
        return value
    raise InvalidRequest(
        f"{name} must be a plain SQL identifier (letters, digits, _ and $, at most 63, not "
        f"starting with a digit), got {value!r}"
    )


@dataclass(frozen=True, kw_only=True)
class VersionTable:
    """The version table (``name`` in ``schema``, or found through the search_path) and the
    search_path a run sets on its connection (empty: the server's)."""

    name: str = DEFAULT_VERSION_TABLE
    schema: str | None = None
    search_path: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> VersionTable:
        """``VERSION_TABLE``, ``VERSION_TABLE_SCHEMA``, ``MIGRATION_SEARCH_PATH`` (comma
        separated schemas); empty or absent means the default. InvalidRequest when malformed."""
        name = environ.get(settings.VERSION_TABLE, "").strip() or DEFAULT_VERSION_TABLE
        schema = environ.get(settings.VERSION_TABLE_SCHEMA, "").strip() or None
        raw_path = environ.get(settings.MIGRATION_SEARCH_PATH, "").strip()
        path = tuple(part.strip() for part in raw_path.split(",")) if raw_path else ()
        return cls(
            name=_identifier(settings.VERSION_TABLE, name),
            schema=None if schema is None else _identifier(settings.VERSION_TABLE_SCHEMA, schema),
            search_path=tuple(
                _identifier(settings.MIGRATION_SEARCH_PATH, part, allow_user=True) for part in path
            ),
        )

    @property
    def qualified(self) -> str:
        """The table as SQL names it (quoted; schema-qualified when it has a schema)."""
        table = quote_ident(self.name)
        return table if self.schema is None else f"{quote_ident(self.schema)}.{table}"

    @property
    def set_search_path_sql(self) -> str | None:
        """``SET search_path TO ...`` for a connection, or None (keep the server's)."""
        if not self.search_path:
            return None
        return "SET search_path TO " + ", ".join(quote_ident(part) for part in self.search_path)

    def describe(self) -> str:
        """For humans: ``schema.table`` or ``table (through the search_path ...)``."""
        if self.schema is not None:
            return f"{self.schema}.{self.name}"
        where = ", ".join(self.search_path) if self.search_path else "the role's"
        return f"{self.name} (found through {where} search_path)"
