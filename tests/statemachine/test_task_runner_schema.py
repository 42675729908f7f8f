"""The task runner's schema_ahead and drift, through the real definition on a real PostgreSQL
with images in a real registry on loopback: decided from the parsed graphs BEFORE any task
starts (an older image's own ``alembic upgrade head`` would fail over a newer schema), as Run
migrations decides it for the Lambda runner."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.registry import Registry, project_image
from pushgate_cli.rehearse import RehearsalConfig, RehearsalEnvironment, sample_push_event
from pushgate_cli.schema import revisions_of

from tests.helpers import ScriptDir, columns, query

pytestmark = [pytest.mark.statemachine, pytest.mark.registry]

SERVICE = REPO_ROOT / "examples" / "service"
SERVICE_CHAIN = revisions_of(SERVICE)
NEWER = "e1f2a3b4c5d6"  # a revision only the newer image of the service has
START = datetime(2026, 6, 1, tzinfo=UTC)
TASK_STATES = ("Run the migration task", "Watch the migration task")


def service_copy(tmp_path: Path, name: str, *, newer: bool) -> Path:
    """A copy of examples/service (its code and its alembic project), with NEWER when asked."""
    target = tmp_path / name
    shutil.copytree(SERVICE, target, ignore=shutil.ignore_patterns("__pycache__"))
    if newer:
        ScriptDir(target / "migrations").add_revision(
            NEWER,
            SERVICE_CHAIN[-1],
            upgrade="op.add_column('customers', sa.Column('nickname', sa.Text()))",
            downgrade="op.drop_column('customers', 'nickname')",
        )
    return target


@pytest.fixture
def environment(
    database_url: str, registry: Registry, tmp_path: Path
) -> Iterator[RehearsalEnvironment]:
    """The task runner with MigrationsSource image: the service serves an image of its released
    files (one below head in the database); pushes go to the session's registry."""
    config = RehearsalConfig(
        runner="task",
        task_poll_wait_seconds=0.5,
        database_url=database_url,
        migrations_dir=service_copy(tmp_path, "released", newer=False),
        start_revision=SERVICE_CHAIN[-2],
        migrations_source="image",
        registry=registry,
    )
    with RehearsalEnvironment(config) as env:
        yield env


def push(env: RehearsalEnvironment, files: Path, tag: str, when: datetime) -> dict[str, Any]:
    """Push an image of the service's ``files`` (the registry and ECR get the same digest; its
    one-off tasks run in those files); the ECR event EventBridge would deliver."""
    repository = env.resolver.ref("RepositoryName")
    ref = env.push_to_registry(tag, repository, project_image(files, env.migrations_path))
    env.push_image(tag, repository=repository, digest=ref.digest)
    assert env.tasks is not None
    env.tasks.image_dirs[ref.digest] = files
    return sample_push_event(repository, tag, ref.digest, when)


def detail(result: Any) -> dict[str, Any]:
    found: dict[str, Any] = result.events[-1]["Detail"]
    return found


def test_an_older_image_over_the_newer_schema_deploys_without_a_migration_task(
    environment: RehearsalEnvironment, tmp_path: Path
) -> None:
    # GIVEN the newer image deployed by the task runner (its revision applied by its own task)
    newer = environment.execute(
        push(environment, service_copy(tmp_path, "newer", newer=True), "release-3", START)
    )
    assert (newer.status, newer.revision_after) == ("succeeded", NEWER), newer.path
    assert environment.tasks is not None
    tasks_before = len(environment.tasks.runs)
    # WHEN an older image (its scripts one revision short) is pushed to roll the code back
    older = push(environment, service_copy(tmp_path, "older", newer=False), "release-2b", START)
    later = (START + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = environment.execute({**older, "time": later})
    # THEN it deploys without starting any task, the schema untouched
    assert result.status == "succeeded", result.path
    assert "Check the schema before the migration task" in result.path
    assert not set(TASK_STATES) & set(result.path)
    assert len(environment.tasks.runs) == tasks_before
    assert result.revision_after == NEWER
    assert "nickname" in columns(environment.database_url, "customers")
    assert result.service.image.endswith(older["detail"]["image-digest"])
    # AND the event says schema_ahead, nothing applied
    assert detail(result)["schema_ahead"] is True
    assert detail(result)["note"] == "schema ahead: deployed without touching the schema"
    assert detail(result)["applied"] == []


def test_a_revision_neither_image_knows_is_drift_and_no_task_runs(
    environment: RehearsalEnvironment, tmp_path: Path
) -> None:
    # GIVEN a database moved out of band to a revision the serving image does not know either
    table = environment.version_table.qualified
    query(environment.database_url, f"UPDATE {table} SET version_num = :v", v=NEWER)
    # WHEN an image of the released files is pushed
    event = push(environment, service_copy(tmp_path, "older", newer=False), "release-2b", START)
    result = environment.execute(event)
    # THEN it fails as SchemaDrift before any task: the schema and the service untouched
    assert result.status == "failed", result.path
    assert detail(result)["error"] == "SchemaDrift"
    assert not set(TASK_STATES) & set(result.path)
    assert environment.tasks is not None
    assert environment.tasks.runs == []
    assert result.revision_after == NEWER
    assert result.service == result.service_before
