"""The snapshot before a destructive change (issue 12), through the real definition offline.

Each test rehearses dev's stack with the snapshot parameters overridden (`DatabaseSnapshot`,
`DatabaseInstanceId` or `DatabaseClusterId`, `SnapshotDeadlineSeconds`, `KeepSnapshots`), the
instance or cluster in moto's RDS, the database a real PostgreSQL, and checks what an operator
would: the snapshots RDS holds (names, tags), the states entered, the schema, the service, the
lock and the events. RDS's answer about a snapshot is set with `rds_reports` (moto's own
snapshots are available at once).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from moto.events.models import EventPattern
from moto.rds.models import DBClusterSnapshot, DBSnapshot
from pushgate.snapshot.naming import MAX_LENGTH
from pushgate_cli.handlers import load_handler
from pushgate_cli.lambda_context import LambdaContext
from pushgate_cli.rehearse import (
    ACCOUNT_ID,
    REGION,
    RehearsalConfig,
    RehearsalEnvironment,
    RunResult,
)
from pushgate_cli.template import function_environment, resource

from tests.helpers import CHAIN, HEAD
from tests.review_projects import ADD_EMAIL, CREATE_USERS, DROP_NICKNAME, write_revision

pytestmark = pytest.mark.statemachine

INSTANCE = "shop-dev-db"
CLUSTER = "shop-dev-aurora"
MARKER = "shop-dev/shop-api"  # dev's <cluster>/<service>
TAKE_INSTANCE = "Snapshot the database instance"
TAKE_CLUSTER = "Snapshot the database cluster"
AWAIT = "Wait until the snapshot is available"

Rehearse = Callable[..., Any]


@pytest.fixture
def rehearsal(database_url: str) -> Rehearse:
    """`with rehearsal(**parameters) as env`: dev's stack with these parameter overrides, on this
    test's database, one revision below head."""

    @contextmanager
    def open_environment(
        migrations_dir: Path | None = None, **parameters: str
    ) -> Iterator[RehearsalEnvironment]:
        config = RehearsalConfig(
            database_url=database_url,
            start_revision="previous",
            parameters=parameters,
            migrations_dir=migrations_dir,
        )
        with RehearsalEnvironment(config) as env:
            yield env

    return open_environment


@pytest.fixture
def rds_reports(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make RDS describe every snapshot with this status (moto's are available at once)."""

    def report(status: str) -> None:
        for model in (DBSnapshot, DBClusterSnapshot):
            fixed = property(lambda _: status, lambda _, __: None)
            monkeypatch.setattr(model, "status", fixed, raising=False)

    return report


def instance_snapshots() -> dict[str, dict[str, str]]:
    """RDS's manual snapshots of the instance: identifier -> tags."""
    found = boto3.client("rds", region_name=REGION).describe_db_snapshots(
        DBInstanceIdentifier=INSTANCE, SnapshotType="manual"
    )["DBSnapshots"]
    return {s["DBSnapshotIdentifier"]: {t["Key"]: t["Value"] for t in s["TagList"]} for s in found}


def only_detail(result: RunResult) -> dict[str, Any]:
    assert len(result.events) == 1, [e["DetailType"] for e in result.events]
    detail: dict[str, Any] = result.events[0]["Detail"]
    return detail


def lock_holders(env: RehearsalEnvironment) -> list[str]:
    table = env.resolver.ref("LockTable")
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]
    return [item["lock_id"]["S"] for item in items if "#" not in item["lock_id"]["S"]]


def assert_nothing_migrated(env: RehearsalEnvironment, result: RunResult) -> None:
    assert result.revision_before == result.revision_after == CHAIN[-2]
    assert "Run migrations" not in result.path
    assert result.service == result.service_before
    assert lock_holders(env) == []


# --- taken ---------------------------------------------------------------------------------
def test_a_snapshot_is_taken_named_and_tagged_before_the_migration(rehearsal: Rehearse) -> None:
    # GIVEN a stack that snapshots its instance before every migration
    with rehearsal(DatabaseSnapshot="always", DatabaseInstanceId=INSTANCE) as env:
        push = env.push_event("release-2")
        digest = push["detail"]["image-digest"]

        # WHEN a push runs
        result = env.execute(push)

        # THEN RDS holds one snapshot, taken before the migration ran
        assert result.status == "succeeded"
        assert result.path.index(TAKE_INSTANCE) < result.path.index(AWAIT)
        assert result.path.index(AWAIT) < result.path.index("Run migrations")
        assert result.revision_after == HEAD
        ((name, tags),) = instance_snapshots().items()
        # named for the service, the digest and the run's start, within RDS's limit
        started = (
            boto3.client("stepfunctions", region_name=REGION)
            .describe_execution(executionArn=result.execution.execution_arn)["startDate"]
            .astimezone(UTC)
        )
        stamp = started.strftime("%Y%m%d-%H%M%S")
        assert name == f"pushgate-shop-api-{digest[7:19]}-{stamp}"
        assert len(name) <= MAX_LENGTH
        # tagged with the full digest, the execution and pushgate's marker
        assert tags == {
            "pushgate:snapshot": MARKER,
            "pushgate:digest": digest,
            "pushgate:execution": result.execution.execution_arn.rsplit(":", 1)[1],
        }
        # AND the run's event names it, for a restore
        snapshot = only_detail(result)["snapshot"]
        assert (snapshot["kind"], snapshot["id"], snapshot["status"]) == (
            "instance",
            name,
            "available",
        )


def test_an_aurora_cluster_is_snapshotted_as_a_cluster(rehearsal: Rehearse) -> None:
    # GIVEN a stack on an Aurora cluster
    with rehearsal(DatabaseSnapshot="always", DatabaseClusterId=CLUSTER) as env:
        # WHEN a push runs
        result = env.execute(env.push_event("release-2"))

        # THEN the cluster was snapshotted, not an instance
        assert result.status == "succeeded"
        assert TAKE_CLUSTER in result.path
        assert TAKE_INSTANCE not in result.path
        clusters = boto3.client("rds", region_name=REGION).describe_db_cluster_snapshots(
            DBClusterIdentifier=CLUSTER, SnapshotType="manual"
        )["DBClusterSnapshots"]
        assert [s["DBClusterSnapshotIdentifier"] for s in clusters] == [
            only_detail(result)["snapshot"]["id"]
        ]


def test_never_takes_no_snapshot(rehearsal: Rehearse) -> None:
    # GIVEN a stack whose DatabaseSnapshot is never, its instance named
    with rehearsal(DatabaseSnapshot="never", DatabaseInstanceId=INSTANCE) as env:
        # WHEN a push runs
        result = env.execute(env.push_event("release-2"))
        # THEN it migrates without a snapshot, and its event names none
        assert result.status == "succeeded"
        assert TAKE_INSTANCE not in result.path
        assert instance_snapshots() == {}
        assert "snapshot" not in only_detail(result)


@pytest.mark.parametrize(
    ("upgrade", "destructive"), [(DROP_NICKNAME, True), (ADD_EMAIL, False)], ids=["drop", "add"]
)
def test_destructive_snapshots_only_when_the_review_says_the_upgrade_drops_or_rewrites(
    rehearsal: Rehearse, tmp_path: Path, upgrade: str, destructive: bool
) -> None:
    # GIVEN DatabaseSnapshot destructive, and a push whose upgrade drops a column or adds one
    # (SchemaPolicy warn, so the drop is not rejected)
    versions = tmp_path / "project" / "versions"
    write_revision(versions, "r1", None, CREATE_USERS, '    op.drop_table("users")\n')
    write_revision(versions, "r2", "r1", upgrade)
    with rehearsal(
        versions.parent,
        DatabaseSnapshot="destructive",
        DatabaseInstanceId=INSTANCE,
        SchemaPolicy="warn",
    ) as env:
        # WHEN it runs
        result = env.execute(env.push_event("release-2"))

        # THEN the review's verdict decided: a snapshot before the drop, none before the add
        assert result.status == "succeeded"
        assert result.path.index("Review the schema change") < result.path.index(
            "Take a snapshot first?"
        )
        assert only_detail(result)["review"]["destructive"] is destructive
        assert (TAKE_INSTANCE in result.path) is destructive
        assert len(instance_snapshots()) == (1 if destructive else 0)


# --- failed, timed out -----------------------------------------------------------------------
def test_a_failed_snapshot_stops_the_run_before_anything_is_migrated(
    rehearsal: Rehearse, rds_reports: Callable[[str], None]
) -> None:
    # GIVEN RDS reports the snapshot failed
    rds_reports("failed")
    with rehearsal(DatabaseSnapshot="always", DatabaseInstanceId=INSTANCE) as env:
        # WHEN a push runs
        result = env.execute(env.push_event("release-2"))

        # THEN it ends Deployment Failed with the snapshot's error, nothing migrated or rolled
        # out, the lock released
        assert result.status == "failed"
        detail = only_detail(result)
        assert detail["error"] == "SnapshotFailed"
        assert "'failed'" in detail["cause"]
        assert detail["snapshot"]["id"] in detail["cause"]
        assert_nothing_migrated(env, result)
        assert "Release the deployment lock" in result.path


def test_a_snapshot_past_its_deadline_stops_the_run_before_anything_is_migrated(
    rehearsal: Rehearse, rds_reports: Callable[[str], None]
) -> None:
    # GIVEN RDS keeps reporting the snapshot as being taken, and a deadline of 90 s
    rds_reports("creating")
    with rehearsal(
        DatabaseSnapshot="always", DatabaseInstanceId=INSTANCE, SnapshotDeadlineSeconds="90"
    ) as env:
        # WHEN a push runs
        result = env.execute(env.push_event("release-2"))

        # THEN the wait asked every 30 s until 90 s had passed, then failed the run
        polls = [w.seconds for w in result.execution.waits if w.state == AWAIT]
        assert polls == [30, 30, 30]
        assert result.status == "failed"
        detail = only_detail(result)
        assert detail["error"] == "SnapshotTimedOut"
        assert "after 90 s" in detail["cause"]
        assert_nothing_migrated(env, result)


# --- pruned ----------------------------------------------------------------------------------
def deliver_to_prune(env: RehearsalEnvironment, result: RunResult) -> list[dict[str, Any]]:
    """Hand the run's events that the template's rule matches to prune_snapshots, with the
    environment the template gives it; what it answered for each."""
    function = "PruneSnapshotsFunction"
    events = resource(env.template, function)["Properties"]["Events"]
    rule = env.resolver.resolve(events["Succeeded"]["Properties"]["Pattern"])
    pattern = EventPattern.load(json.dumps(rule))
    env.function_environments.update(
        {function: function_environment(env.template, env.resolver, function)}
    )
    with env.function_environments.applied(function):
        handler = load_handler("prune_snapshots", env.root, fresh=True)
    answers = []
    for entry in result.events:
        event = {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "source": entry["Source"],
            "detail-type": entry["DetailType"],
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [],
            "detail": entry["Detail"],
        }
        if pattern.matches_event(cast(Any, event)):
            with env.function_environments.applied(function):
                context = LambdaContext.invocation("prune", timeout_s=60, memory_mb=128)
                answers.append(handler.lambda_handler(event, context))
    return answers


def test_successful_deploys_prune_pushgates_own_snapshots_beyond_the_kept_and_no_others(
    rehearsal: Rehearse,
) -> None:
    # GIVEN a stack keeping 2 snapshots, and snapshots of the instance that are not its own:
    # one taken by hand, one another stack's with pushgate's name, one with a copied marker
    with rehearsal(
        DatabaseSnapshot="always", DatabaseInstanceId=INSTANCE, KeepSnapshots="2"
    ) as env:
        rds = boto3.client("rds", region_name=REGION)
        others = {
            "before-the-big-change": [],
            "pushgate-web-0123456789ab-20250101-000000": [
                {"Key": "pushgate:snapshot", "Value": "apps/web"}
            ],
            "manual-copy": [{"Key": "pushgate:snapshot", "Value": MARKER}],
        }
        for name, tags in others.items():
            rds.create_db_snapshot(
                DBInstanceIdentifier=INSTANCE, DBSnapshotIdentifier=name, Tags=tags
            )

        # WHEN three pushes deploy, each announcement delivered as the template routes it
        taken, answers = [], []
        for tag in ("release-2", "release-3", "release-4"):
            result = env.execute(env.push_event(tag))
            assert result.status == "succeeded"
            taken.append(only_detail(result)["snapshot"]["id"])
            answers += deliver_to_prune(env, result)

        # THEN each success pruned: the two newest of its own are kept, the oldest deleted
        assert len(answers) == 3
        assert answers[-1]["kept"] == [taken[2], taken[1]]
        assert [a["deleted"] for a in answers] == [[], [], [taken[0]]]
        # AND nobody else's snapshot was touched, whatever its name or tags
        assert set(instance_snapshots()) == {taken[1], taken[2], *others}
