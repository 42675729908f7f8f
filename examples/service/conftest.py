"""shop-api's test fixtures: a real PostgreSQL database per test.

``DATABASE_URL`` names a server to use (its role needs CREATEDB), as in pushgate's own tests;
without it an embedded PostgreSQL is started (pushgate's development tools provide it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from pushgate_cli.embedded import DatabaseServer, EmbeddedPostgres, ExistingServer


@pytest.fixture(scope="module")
def server() -> Iterator[DatabaseServer]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        yield ExistingServer(url)
        return
    with EmbeddedPostgres() as embedded:
        yield embedded


@pytest.fixture
def database_url(server: DatabaseServer) -> Iterator[str]:
    """A fresh database, as a SQLAlchemy URL with the pg8000 driver (installed here)."""
    name = f"shop_api_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    try:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.drop_database(name)
