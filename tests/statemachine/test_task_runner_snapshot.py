"""DatabaseSnapshot on the task runner's path, through the real definition offline.

The task runner has no schema review (its revisions need the service's own code to render their
SQL), so every run that migrates counts as destructive: a snapshot is taken before the
migration task whenever DatabaseSnapshot is ``always`` or ``destructive``. The database is a
real PostgreSQL, the instance is in moto's RDS, and the migration task is the pushed image's own
command, run by the rehearsal's ECS emulation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto.rds.models import DBSnapshot
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.rehearse import REGION, RehearsalConfig, RehearsalEnvironment
from pushgate_cli.scenarios import SCENARIOS
from pushgate_cli.schema import revisions_of

pytestmark = pytest.mark.statemachine

SERVICE_CHAIN = revisions_of(REPO_ROOT / "examples" / "service")  # the pushed image's project
HEAD, PREVIOUS = SERVICE_CHAIN[-1], SERVICE_CHAIN[-2]
INSTANCE = "shop-dev-db"
TAKE = "Snapshot the database instance"
AWAIT = "Wait until the snapshot is available"
RUN_TASK = "Run the migration task"


@contextmanager
def task_rehearsal(
    database_url: str, start_revision: str, parameters: Mapping[str, str]
) -> Iterator[RehearsalEnvironment]:
    config = RehearsalConfig(
        scenario=SCENARIOS["healthy"],
        runner="task",
        task_poll_wait_seconds=0.5,
        database_url=database_url,
        start_revision=start_revision,
        parameters={"DatabaseInstanceId": INSTANCE, **parameters},
    )
    with RehearsalEnvironment(config) as env:
        yield env


def instance_snapshots() -> list[str]:
    found = boto3.client("rds", region_name=REGION).describe_db_snapshots(
        DBInstanceIdentifier=INSTANCE, SnapshotType="manual"
    )["DBSnapshots"]
    return [s["DBSnapshotIdentifier"] for s in found]


def the_event(result: Any) -> dict[str, Any]:
    assert len(result.events) == 1, [e["DetailType"] for e in result.events]
    detail: dict[str, Any] = result.events[0]["Detail"]
    return detail


@pytest.mark.parametrize("mode", ["destructive", "always"])
def test_a_task_runner_upgrade_is_snapshotted_before_its_task_starts(
    database_url: str, mode: str
) -> None:
    # GIVEN the task runner, the database one revision below the pushed image's head, and a
    # stack that snapshots before a destructive upgrade (or before every one)
    with task_rehearsal(database_url, "previous", {"DatabaseSnapshot": mode}) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

        # THEN the snapshot was available before the migration task started, and the task ran
        assert result.status == "succeeded", result.path
        assert result.path.index(TAKE) < result.path.index(AWAIT) < result.path.index(RUN_TASK)
        assert result.revision_after == HEAD
        (name,) = instance_snapshots()
        # AND the run's event names it, for a restore
        snapshot = the_event(result)["snapshot"]
        assert (snapshot["kind"], snapshot["id"], snapshot["status"]) == (
            "instance",
            name,
            "available",
        )


@pytest.mark.parametrize("mode", ["destructive", "always"])
def test_at_head_the_task_runner_still_snapshots_before_its_task(
    database_url: str, mode: str
) -> None:
    # GIVEN the task runner and a database already at the pushed image's head, where the
    # service's own command may still change what the version table does not show (a custom
    # MigrationCommand, an env.py looping over tenant schemas)
    with task_rehearsal(database_url, "head", {"DatabaseSnapshot": mode}) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

        # THEN a snapshot was taken before the task, and the task ran; the schema stayed at head
        assert result.status == "succeeded", result.path
        assert len(instance_snapshots()) == 1
        assert result.path.index(AWAIT) < result.path.index(RUN_TASK)
        assert result.revision_before == result.revision_after == HEAD


def test_never_takes_no_snapshot_on_the_task_runner(database_url: str) -> None:
    with task_rehearsal(database_url, "previous", {"DatabaseSnapshot": "never"}) as env:
        result = env.execute(env.push_event("release-2"))
        assert result.status == "succeeded", result.path
        assert TAKE not in result.path
        assert instance_snapshots() == []
        assert result.revision_after == HEAD


def test_a_failed_snapshot_means_no_migration_task_starts(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN RDS reports the snapshot failed (moto's are available at once)
    monkeypatch.setattr(
        DBSnapshot, "status", property(lambda _: "failed", lambda _, __: None), raising=False
    )
    with task_rehearsal(database_url, "previous", {"DatabaseSnapshot": "always"}) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

        # THEN the run failed before the migration: no task ran, the schema and the service
        # are as they were
        assert result.status == "failed", result.path
        assert RUN_TASK not in result.path
        assert env.tasks is not None
        assert env.tasks.runs == []
        assert result.revision_before == result.revision_after == PREVIOUS
        assert result.service == result.service_before
        assert the_event(result)["error"] == "SnapshotFailed"
