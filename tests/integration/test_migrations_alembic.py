"""pytest-alembic's standard checks on the bundled migrations/, on a real PostgreSQL.

The service's models are not in this repository (env.py has no target_metadata), so the
model-based check (``test_model_definitions_match_ddl``) does not apply; the experimental
``test_downgrade_leaves_no_trace`` does (it compares the reflected schema before an upgrade and
after the upgrade + downgrade of every revision).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy
from alembic.config import Config
from pytest_alembic.tests import (
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from pytest_alembic.tests.experimental import test_downgrade_leaves_no_trace
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from tests.helpers import MIGRATIONS

pytestmark = pytest.mark.integration

__all__ = [
    "test_downgrade_leaves_no_trace",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


@pytest.fixture
def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@pytest.fixture
def alembic_engine(database_url: str) -> Iterator[Engine]:
    url: URL = make_url(database_url).set(drivername="postgresql+pg8000")
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
