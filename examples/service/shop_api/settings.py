"""Settings from the environment, read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(RuntimeError):
    """A required variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    pool_size: int = 5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        url = environ.get("DATABASE_URL", "").strip()
        if not url:
            raise SettingsError("DATABASE_URL is required (postgresql+psycopg://user:pw@host/db)")
        raw_pool = environ.get("DB_POOL_SIZE", "5").strip()
        if not raw_pool.isdigit() or int(raw_pool) < 1:
            raise SettingsError(f"DB_POOL_SIZE must be a positive integer, got {raw_pool!r}")
        return cls(database_url=url, pool_size=int(raw_pool))
