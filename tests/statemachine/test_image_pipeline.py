"""Issue 9 end to end: the real definition reads the pushed image's scripts out of a REAL OCI
registry (docker-registry on loopback) and runs them on a real PostgreSQL; ECR (moto) holds the
same digest the registry computed."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from pushgate_cli.registry import Registry, blob_digest, project_image
from pushgate_cli.rehearse import (
    REGION,
    RehearsalConfig,
    RehearsalEnvironment,
    RunResult,
    sample_push_event,
)
from pushgate_cli.scenarios import SCENARIOS
from pushgate_cli.schema import move_to

from tests.helpers import CHAIN, HEAD, MIGRATIONS, ScriptDir, columns

pytestmark = [pytest.mark.statemachine, pytest.mark.registry]

NEWER = "d1e2f3a4b5c6"  # a revision only the newer image has
START = datetime(2026, 5, 1, tzinfo=UTC)


def project(tmp_path: Path, name: str, *, newer: bool) -> Path:
    """A copy of migrations/, with the image-only revision NEWER when ``newer``."""
    target = tmp_path / name
    shutil.copytree(MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    if newer:
        ScriptDir(target).add_revision(
            NEWER,
            HEAD,
            upgrade="op.add_column('users', sa.Column('nickname', sa.Text()))",
            downgrade="op.drop_column('users', 'nickname')",
        )
    return target


@pytest.fixture
def environment(
    database_url: str, registry: Registry, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[RehearsalEnvironment]:
    """A rehearsal with MigrationsSource image: the service serves an image of migrations/
    (one below head in the database), pushes go to the session's registry."""
    scenario = getattr(request, "param", "healthy")
    config = RehearsalConfig(
        database_url=database_url,
        scenario=SCENARIOS[scenario],
        migrations_dir=project(tmp_path, "released", newer=False),
        start_revision=CHAIN[-2],
        migrations_source="image",
        registry=registry,
    )
    with RehearsalEnvironment(config) as env:
        yield env


def push(env: RehearsalEnvironment, directory: Path, tag: str, when: datetime) -> dict[str, Any]:
    """Push an image of ``directory`` (under /app) to the registry, the same digest to ECR; the
    ECR event EventBridge would deliver."""
    repository = env.resolver.ref("RepositoryName")
    ref = env.push_to_registry(tag, repository, project_image(directory))
    env.push_image(tag, repository=repository, digest=ref.digest)
    return sample_push_event(repository, tag, ref.digest, when)


def migration_calls(env: RehearsalEnvironment) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    env.lambda_observers.append(
        lambda function, event, _error: (
            calls.append(event) if function == "run_migrations" else None
        )
    )
    return calls


def detail(result: RunResult) -> dict[str, Any]:
    found: dict[str, Any] = result.events[-1]["Detail"]
    return found


def test_a_revision_only_the_pushed_image_has_is_applied(
    environment: RehearsalEnvironment, tmp_path: Path
) -> None:
    # GIVEN a pushed image whose scripts have a revision the function's bundle lacks
    event = push(environment, project(tmp_path, "newer", newer=True), "release-3", START)
    # WHEN the push is deployed
    result = environment.execute(event)
    # THEN the image's revision ran, read from the image by the pushed digest
    assert result.status == "succeeded", result.path
    assert result.revision_after == NEWER
    assert "nickname" in columns(environment.database_url, "users")
    assert result.scripts_image is not None
    assert result.scripts_image.endswith(f"@{event['detail']['image-digest']}")
    assert detail(result)["schema_ahead"] is False


def test_a_tampered_image_is_rejected_before_the_lock_with_the_database_untouched(
    environment: RehearsalEnvironment, registry: Registry, tmp_path: Path
) -> None:
    # GIVEN a pushed image whose project layer the registry now serves altered
    newer = project(tmp_path, "newer", newer=True)
    (newer / f"{uuid.uuid4().hex}.txt").write_text("this image's own")  # no other test's blob
    event = push(environment, newer, "release-3", START)
    layers = project_image(newer)
    registry.tamper(blob_digest(layers[0].blob()))
    calls = migration_calls(environment)
    # WHEN the push is deployed
    result = environment.execute(event)
    # THEN it is rejected, saying the blob does not match its digest
    assert result.status == "rejected", result.path
    assert "Read the image's scripts" in result.path
    assert "digest" in detail(result)["cause"]
    # AND the lock was never taken, the database and the service are untouched
    assert "Take the deployment lock" not in result.path
    assert [call["action"] for call in calls] == ["read"]
    lock_table = environment.resolver.ref("LockTable")
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=lock_table)["Items"]
    assert items == []
    assert result.revision_after == result.revision_before == CHAIN[-2]
    assert result.service == result.service_before


def test_an_older_image_over_the_newer_schema_deploys_without_touching_it(
    environment: RehearsalEnvironment, tmp_path: Path
) -> None:
    # GIVEN the newer image deployed (its revision applied, its image serving)
    newer = environment.execute(
        push(environment, project(tmp_path, "newer", newer=True), "release-3", START)
    )
    assert (newer.status, newer.revision_after) == ("succeeded", NEWER)
    # WHEN an older image (scripts one revision short) is pushed after it, to roll the code back
    older = push(environment, project(tmp_path, "older", newer=False), "release-2b", START)
    result = environment.execute(
        {**older, "time": (START + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    # THEN it deploys, the schema untouched, and the event says schema_ahead
    assert result.status == "succeeded", result.path
    assert result.revision_after == NEWER
    assert "nickname" in columns(environment.database_url, "users")
    assert result.service.image.endswith(older["detail"]["image-digest"])
    assert detail(result)["schema_ahead"] is True
    assert detail(result)["note"] == "schema ahead: deployed without touching the schema"
    assert detail(result)["applied"] == []


def test_a_revision_the_serving_image_does_not_know_either_is_drift(
    environment: RehearsalEnvironment, tmp_path: Path
) -> None:
    # GIVEN a database moved out of band to a revision neither the serving image knows
    newer = project(tmp_path, "newer", newer=True)
    move_to(environment.database_url, newer, NEWER, environment.version_table)
    # WHEN an image of the released scripts is pushed
    event = push(environment, project(tmp_path, "older", newer=False), "release-2b", START)
    result = environment.execute(event)
    # THEN it fails as SchemaDrift, the schema and the service untouched
    assert result.status == "failed", result.path
    assert detail(result)["error"] == "SchemaDrift"
    assert result.revision_after == NEWER
    assert result.service == result.service_before


@pytest.mark.parametrize("environment", ["unhealthy"], indirect=True)
def test_the_rollbacks_downgrade_runs_the_same_digests_scripts(
    environment: RehearsalEnvironment, tmp_path: Path
) -> None:
    # GIVEN a pushed image with a revision only it has, and a rollout that never gets healthy
    calls = migration_calls(environment)
    event = push(environment, project(tmp_path, "newer", newer=True), "release-3", START)
    # WHEN it is deployed and rolled back
    result = environment.execute(event)
    # THEN the image's own downgrade took its revision back out
    assert result.status == "rolled_back", result.path
    assert result.revision_after == CHAIN[-2]
    assert "nickname" not in columns(environment.database_url, "users")
    # AND the read, the review, the upgrade and the revert all named the pushed digest
    digests = {call["action"]: call["image"]["digest"] for call in calls}
    actions = ["read", "review", "upgrade", "revert"]
    assert digests == dict.fromkeys(actions, event["detail"]["image-digest"])
