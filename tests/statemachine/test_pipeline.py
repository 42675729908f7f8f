"""The compensation matrix, path by path, on the real state machine definition.

Each test runs `template.yaml`'s state machine (DefinitionSubstitutions substituted) offline with
the shipped handlers in-process against a real PostgreSQL database of its own, and asserts on
what an operator would check: the states entered (execution history), the database revision
and tables, the ECS service (task definition, desired count, image), the autoscaling target, the
deployment lock, and the events put on EventBridge.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pushgate_cli.embedded import EmbeddedPostgres
from pushgate_cli.rehearse import REGION, RehearsalConfig, RehearsalEnvironment, RunResult
from pushgate_cli.scenarios import SCENARIOS, Rollout, Scenario

from tests.helpers import CHAIN, HEAD, MIGRATIONS, ScriptDir, load_event, revision, tables

pytestmark = pytest.mark.statemachine

PREVIOUS = CHAIN[-2]
HEALTH_LOOP = "Wait for ECS to say so"
ROLLBACK_STATES = [
    "Suspend autoscaling",
    "Scale service to zero",
    "Downgrade schema",
    "Restore previous version",
    "Resume autoscaling",
]

Rehearse = Callable[..., Any]


@pytest.fixture
def rehearsal(database_url: str) -> Rehearse:
    """Open a RehearsalEnvironment on this test's own database: `with rehearsal(...) as env`;
    it starts one revision below head unless told otherwise (a fresh database of one's own is
    otherwise left where it is)."""

    @contextmanager
    def open_environment(
        scenario: Scenario = SCENARIOS["healthy"], **options: Any
    ) -> Iterator[RehearsalEnvironment]:
        options.setdefault("database_url", database_url)
        options.setdefault("start_revision", "previous")
        with RehearsalEnvironment(RehearsalConfig(scenario=scenario, **options)) as env:
            yield env

    return open_environment


def detail_types(result: RunResult) -> list[str]:
    return [str(event["DetailType"]) for event in result.events]


def only_event(result: RunResult) -> dict[str, Any]:
    assert len(result.events) == 1, detail_types(result)
    detail: dict[str, Any] = result.events[0]["Detail"]
    return detail


def retries(result: RunResult, state: str) -> list[float]:
    return [w.seconds for w in result.execution.waits if w.state == state and w.kind == "retry"]


def lock_items(env: RehearsalEnvironment) -> list[dict[str, Any]]:
    table = env.resolver.ref("LockTable")
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]
    return [item for item in items if "#" not in item["lock_id"]["S"]]  # not #serving, #wake


def scalable_target(env: RehearsalEnvironment) -> dict[str, Any]:
    p = env.resolver.ref
    found = boto3.client("application-autoscaling", region_name=REGION).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{p('ClusterName')}/{p('ServiceName')}"]
    )["ScalableTargets"]
    assert len(found) == 1
    target: dict[str, Any] = found[0]
    return target


def task_definition_revisions(env: RehearsalEnvironment) -> list[str]:
    ecs = boto3.client("ecs", region_name=REGION)
    arns: list[str] = ecs.list_task_definitions(familyPrefix=env.resolver.ref("ServiceName"))[
        "taskDefinitionArns"
    ]
    return arns


def ecr_error(env: RehearsalEnvironment, digest: str) -> ClientError:
    """What ECR answers when asked for this digest in the stack's repository."""
    ecr = boto3.client("ecr", region_name=REGION)
    with pytest.raises(ClientError) as raised:
        ecr.describe_images(
            repositoryName=env.resolver.ref("RepositoryName"), imageIds=[{"imageDigest": digest}]
        )
    return raised.value


def assert_untouched(result: RunResult) -> None:
    assert result.service == result.service_before
    assert result.revision_after == result.revision_before


# --- the happy path -------------------------------------------------------------------------
def test_a_healthy_push_migrates_and_serves_the_pushed_digest(rehearsal: Rehearse) -> None:
    # GIVEN the service on its previous image and the database one revision behind head
    with rehearsal() as env:
        push = env.push_event("release-2")
        digest = push["detail"]["image-digest"]

        # WHEN the push's event starts a run
        result = env.execute(push)

        # THEN it migrated exactly the pending revision, serves the digest and says so
        assert result.status == "succeeded"
        assert result.execution.status == "SUCCEEDED"
        assert (result.revision_before, result.revision_after) == (PREVIOUS, HEAD)
        assert result.service.image.endswith(f"/shop/api@{digest}")
        assert result.service.task_definition != result.service_before.task_definition
        assert result.service.desired_count == result.service_before.desired_count
        for state in ["Check database", "Run migrations", "Roll out image", HEALTH_LOOP]:
            assert state in result.path
        assert result.path.index("Run migrations") < result.path.index("Roll out image")
        assert not set(ROLLBACK_STATES) & set(result.path)
        assert detail_types(result) == ["Deployment Succeeded"]
        assert result.alerts == []  # success stays on the bus; the alert topic is for people
        detail = only_event(result)
        assert (detail["from_revision"], detail["to_revision"]) == (PREVIOUS, HEAD)
        assert detail["digest"] == digest
        assert detail["task_definition"] == result.service.task_definition
        assert detail["previous_task_definition"] == result.service_before.task_definition
        assert lock_items(env) == []


# --- the database --------------------------------------------------------------------------
def test_a_database_that_becomes_ready_is_waited_for(rehearsal: Rehearse) -> None:
    # GIVEN a database server that is down when the run starts and comes back after the first
    # failed check (a real server, stopped and started again)
    with EmbeddedPostgres() as server, rehearsal(database_url=server.url) as env:
        before = env.service_state()
        server.kill()

        def start_again(function: str, _event: Any, error: BaseException | None) -> None:
            if function == "check_database" and error is not None and not server.running:
                server.start()

        env.lambda_observers.append(start_again)

        # WHEN a push is deployed
        push = env.push_event("release-2")
        result = env.result(env.wait(env.start(push)), push, PREVIOUS, before)

    # THEN "Check database" retried with backoff, then the deploy went on and succeeded
    assert result.status == "succeeded"
    assert len(retries(result, "Check database")) >= 1
    assert result.path.count("Check database") == 1  # retries stay inside the state
    assert result.revision_after == HEAD


def test_a_database_that_never_becomes_ready_fails_without_touching_anything(
    rehearsal: Rehearse,
) -> None:
    # GIVEN the database secret points at a port where nothing listens
    with rehearsal(SCENARIOS["db-unavailable"]) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN every bounded retry was spent, with growing backoff, and nothing changed
    assert result.status == "failed"
    assert len(retries(result, "Check database")) == 6
    assert "Run migrations" not in result.path
    assert_untouched(result)
    detail = only_event(result)
    assert detail["error"] == "DatabaseNotReady"
    assert detail["from_revision"] is None  # the database was never read: unknown, not base
    assert detail_types(result) == ["Deployment Failed"]


def test_a_configuration_error_fails_at_once_without_retrying(rehearsal: Rehearse) -> None:
    # GIVEN the database secret holds a wrong password (rotated badly)
    with rehearsal() as env:
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = env.resolver.ref("DatabaseSecretArn")
        secret = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
        secrets.put_secret_value(
            SecretId=arn, SecretString=json.dumps({**secret, "password": "wrong"})
        )

        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN it failed at the first check: no retry, nothing touched
    assert result.status == "failed"
    assert retries(result, "Check database") == []
    assert "Run migrations" not in result.path
    assert_untouched(result)
    assert only_event(result)["error"] == "DatabaseConfigError"


# --- migrations -----------------------------------------------------------------------------
def test_a_failing_migration_leaves_schema_and_service_as_they_were(
    rehearsal: Rehearse, database_url: str
) -> None:
    # GIVEN a new revision that fails half-way, after creating a table
    with rehearsal(SCENARIOS["migration-fails"], start_revision="head") as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN the old version still serves, on the schema it had; nothing half-done remains
    assert result.status == "failed"
    assert_untouched(result)
    assert result.revision_after == HEAD
    assert "rehearsal_half_done" not in tables(database_url)
    assert "Roll out image" not in result.path
    assert only_event(result)["error"] == "MigrationFailed"


def test_a_failed_migrations_alert_says_where_the_schema_stayed_and_why_in_words(
    rehearsal: Rehearse,
) -> None:
    # GIVEN a database at head and a new revision that fails half-way
    with rehearsal(SCENARIOS["migration-fails"], start_revision="head") as env:
        raised: list[BaseException] = []

        def keep_runner_error(function: str, _event: Any, error: BaseException | None) -> None:
            if function == "run_migrations" and error is not None:
                raised.append(error)

        env.lambda_observers.append(keep_runner_error)

        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN the "Deployment Failed" alert names the revision the database started at and is
    # still at (nothing applied), and its cause is the runner's message, not Lambda's JSON
    assert result.status == "failed"
    detail = only_event(result)
    assert detail["error"] == "MigrationFailed"
    assert detail["from_revision"] == detail["to_revision"] == result.revision_before
    assert detail["from_revision"] == result.revision_after
    assert detail["applied"] == []
    assert len(raised) == 1
    assert detail["cause"] == str(raised[0])
    assert "stackTrace" not in detail["cause"]
    assert not detail["cause"].lstrip().startswith("{")


# --- rollout and health ---------------------------------------------------------------------
def test_a_failed_rollout_after_three_revisions_undoes_all_three(
    rehearsal: Rehearse, database_url: str
) -> None:
    # GIVEN a fresh database (three pending revisions) and an image whose tasks fail to start
    with rehearsal(SCENARIOS["unhealthy"], start_revision="base") as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
        target = scalable_target(env)

    # THEN the service went to zero first, then all three revisions were downgraded, then the
    # previous version came back with its desired count and autoscaling resumed
    assert result.status == "rolled_back"
    path = result.path
    assert [s for s in path if s in ROLLBACK_STATES] == ROLLBACK_STATES
    assert path.index("Scale service to zero") < path.index("Downgrade schema")
    assert result.revision_before is None
    assert result.revision_after is None
    assert {"users", "orders"}.isdisjoint(tables(database_url))
    assert result.service == result.service_before
    assert target["SuspendedState"] == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    }
    detail = only_event(result)
    assert detail["applied"] == CHAIN
    assert detail["error"] == "RolloutFailed"
    assert detail_types(result) == ["Deployment Rolled Back"]
    assert result.alerts == ["Deployment Rolled Back"]  # routed by the template's AlertRule


def test_a_rollout_that_never_gets_healthy_is_rolled_back_at_the_deadline(
    rehearsal: Rehearse,
) -> None:
    # GIVEN an image whose tasks neither become healthy nor fail
    stuck = Scenario("stuck", "rolled_back", Rollout.STUCK)
    with rehearsal(stuck) as env:
        deadline = int(env.resolver.ref("HealthDeadlineSeconds"))
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN it polled until the deadline (simulated time), then rolled back exactly one revision
    waited = sum(w.seconds for w in result.execution.waits if w.state == HEALTH_LOOP)
    assert waited >= deadline
    assert result.status == "rolled_back"
    assert only_event(result)["error"] == "HealthDeadlineExceeded"
    assert (result.revision_before, result.revision_after) == (PREVIOUS, PREVIOUS)
    assert result.service == result.service_before


def test_a_failed_downgrade_leaves_the_service_at_zero_and_raises_rollback_failed(
    rehearsal: Rehearse, tmp_path: Path
) -> None:
    # GIVEN a new revision whose downgrade is broken, and an image whose tasks fail
    shutil.copytree(MIGRATIONS, tmp_path / "migrations")
    scripts = ScriptDir(tmp_path / "migrations")
    scripts.add_revision(
        "d00000000001",
        HEAD,
        upgrade='op.add_column("orders", sa.Column("note", sa.Text()))',
        downgrade='op.execute("SELECT 1 / 0")',
    )
    with rehearsal(SCENARIOS["unhealthy"], migrations_dir=scripts.path) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN nothing is guessed: service at zero, schema left where the run put it, critical alert
    assert result.status == "rollback_failed"
    assert result.service.desired_count == 0
    assert result.revision_after == "d00000000001"
    assert "Restore previous version" not in result.path
    assert detail_types(result) == ["Rollback Failed"]
    assert result.alerts == ["Rollback Failed"]


# --- input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sample", "field"), [("ecr_delete", "action-type"), ("ecr_push_failed", "result")]
)
def test_an_event_that_is_not_a_successful_push_is_rejected(
    rehearsal: Rehearse, sample: str, field: str
) -> None:
    # GIVEN a DELETE or a failed push of the service's repository
    with rehearsal() as env:
        event = load_event(sample)
        event["detail"]["repository-name"] = env.resolver.ref("RepositoryName")

        # WHEN it starts a run (a hand-replay, since the rule would not match it)
        result = env.execute(event)

    # THEN it is rejected before the lock, the database or the service are touched
    assert result.status == "rejected"
    assert "Take the deployment lock" not in result.path
    assert "Check database" not in result.path
    assert_untouched(result)
    assert detail_types(result) == ["Deployment Rejected"]
    # AND the alert says which field made it so (action-type DELETE, result FAILURE)
    detail = only_event(result)
    assert detail["error"] == "DeploymentRejected"
    assert f"{field} {event['detail'][field]} is not" in detail["cause"]


def test_a_push_of_another_repository_is_rejected_naming_both_repositories(
    rehearsal: Rehearse,
) -> None:
    # GIVEN a successful push of some other repository, replayed into this stack's machine
    with rehearsal() as env:
        event = env.push_event("release-2")
        event["detail"]["repository-name"] = "other/app"

        own = env.resolver.ref("RepositoryName")

        # WHEN it starts a run
        result = env.execute(event)

    # THEN it is rejected, and the alert names the pushed repository and the stack's own
    assert result.status == "rejected"
    assert_untouched(result)
    detail = only_event(result)
    assert detail["error"] == "DeploymentRejected"
    assert detail["cause"].startswith(f"repository other/app is not {own}")


def test_a_replay_with_neither_tag_nor_digest_is_rejected_saying_so(rehearsal: Rehearse) -> None:
    # GIVEN a replay request that names the repository only
    with rehearsal() as env:
        # WHEN it starts a run
        result = env.execute({"repository": env.resolver.ref("RepositoryName")})

    # THEN it is rejected before the image look-up, and the alert says what is missing
    assert result.status == "rejected"
    assert "Find the pushed image" not in result.path
    cause = only_event(result)["cause"]
    assert "neither a tag nor a digest" in cause


@pytest.mark.parametrize(
    ("execution_input", "cause"),
    [
        (
            {"source": "aws.s3", "detail": {}},
            "source aws.s3 is not aws.ecr: only ECR pushes and replay requests are deployed",
        ),
        ({"digest": "latest"}, "digest latest is not a sha256: digest"),
        (
            {"repository": "other/app", "tag": "v1"},
            "repository other/app is not shop/api, the repository this stack deploys",
        ),
        (
            ["not", "an", "object"],
            "the input is neither a successful ECR PUSH of shop/api with a digest (and account, "
            "region, time) nor a replay request {repository?, tag?, digest?} of strings",
        ),
    ],
    ids=["not-from-ecr", "malformed-replay-digest", "replay-of-another-repository", "unreadable"],
)
def test_describe_push_rejects_with_its_reason_before_anything_is_touched(
    rehearsal: Rehearse, execution_input: Any, cause: str
) -> None:
    # GIVEN an input describe_push refuses
    with rehearsal() as env:
        assert env.resolver.ref("RepositoryName") == "shop/api"
        # WHEN it starts a run
        result = env.execute(execution_input)

    # THEN the run is rejected at "Describe the push": no image look-up, lock, database or
    # service, and the alert's cause is describe_push's reason in words
    assert result.status == "rejected"
    assert result.execution.status == "FAILED"
    assert result.path[result.path.index("Describe the push") + 1] == "Describe the outcome"
    assert "Find the pushed image" not in result.path
    assert "Take the deployment lock" not in result.path
    assert "Release the deployment lock" not in result.path
    assert_untouched(result)
    detail = only_event(result)
    assert detail["error"] == "DeploymentRejected"
    assert detail["cause"] == cause
    assert detail["input"] == execution_input
    assert result.alerts == ["Deployment Rejected"]


def test_a_push_whose_image_is_not_in_the_repository_is_rejected(rehearsal: Rehearse) -> None:
    # GIVEN a push event of the stack's repository whose well-formed digest ECR does not hold
    with rehearsal() as env:
        event = env.push_event("release-2")
        event["detail"]["image-digest"] = "sha256:" + "0" * 64

        # WHEN it starts a run
        result = env.execute(event)
        ecr_says = ecr_error(env, event["detail"]["image-digest"])

    # THEN the image lookup rejects it before anything is locked, migrated or rolled out
    assert result.status == "rejected"
    assert "Take the deployment lock" not in result.path
    assert_untouched(result)
    assert detail_types(result) == ["Deployment Rejected"]
    # AND the alert names the image, the repository and ECR's own error and message
    detail = only_event(result)
    assert detail["error"] == "DeploymentRejected"
    cause = detail["cause"]
    assert event["detail"]["image-digest"] in cause
    assert f"Ecr.{ecr_says.response['Error']['Code']}: " in cause
    assert ecr_says.response["Error"]["Message"] in cause


def test_a_replay_by_tag_resolves_the_digest_and_deploys_it(rehearsal: Rehearse) -> None:
    # GIVEN an image pushed with a tag, replayed by hand from the console by repository and tag
    with rehearsal() as env:
        digest = env.push_event("release-7")["detail"]["image-digest"]
        replay = {"repository": env.resolver.ref("RepositoryName"), "tag": "release-7"}

        # WHEN the replay input starts a run
        result = env.execute(replay)

    # THEN the digest was looked up and that exact image serves
    assert result.status == "succeeded"
    assert result.service.image.endswith(f"@{digest}")


# --- replays, redrives, concurrency ---------------------------------------------------------
def test_replaying_a_succeeded_run_applies_nothing_twice(rehearsal: Rehearse) -> None:
    # GIVEN a push that was deployed
    with rehearsal() as env:
        push = env.push_event("release-2")
        first = env.execute(push)
        revisions_after_first = task_definition_revisions(env)

        # WHEN the same input is run again (a console replay)
        second = env.execute(push)
        revisions_after_second = task_definition_revisions(env)

    # THEN no revision is applied twice and no task-definition revision is registered again
    assert first.status == second.status == "succeeded"
    assert only_event(first)["applied"] == [HEAD]
    assert only_event(second)["applied"] == []
    assert second.revision_after == HEAD
    assert revisions_after_second == revisions_after_first
    assert second.service == first.service


def test_two_pushes_at_once_migrate_once_and_the_later_image_serves(
    rehearsal: Rehearse, database_url: str
) -> None:
    # GIVEN two images pushed a few seconds apart, whose runs start together
    with rehearsal(time_scale=0.002) as env:
        now = datetime.now(UTC)
        older = env.push_event("release-2", when=now - timedelta(seconds=5))
        newer = env.push_event("release-3", when=now)

        # WHEN both runs go at once
        arns = [env.start(older), env.start(newer)]
        reports = [env.wait(arn) for arn in arns]
        events = [e for report in reports for e in env.events_of(report)]
        final = env.service_state()
        locks = lock_items(env)

    # THEN they took turns: the pending revision was applied once, the later image serves, and
    # no lock is left behind
    applied = [rev for e in events for rev in e["Detail"].get("applied") or []]
    assert applied == [HEAD]
    assert revision(database_url) == HEAD
    assert final.image.endswith(f"@{newer['detail']['image-digest']}")
    assert all(report.status == "SUCCEEDED" for report in reports)
    assert locks == []


def test_a_lock_left_behind_by_a_run_that_ended_is_taken_over(rehearsal: Rehearse) -> None:
    # GIVEN the service's lock item left by an execution that is no more (it crashed, and its
    # history expired)
    with rehearsal() as env:
        p = env.resolver.ref
        boto3.client("dynamodb", region_name=REGION).put_item(
            TableName=p("LockTable"),
            Item={
                "lock_id": {"S": f"{p('ClusterName')}/{p('ServiceName')}"},
                "owner": {"S": f"arn:aws:states:{REGION}:123456789012:execution:deploy:crashed"},
            },
        )

        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
        locks = lock_items(env)

    # THEN it took the stale lock over at once (no wait), deployed, and left no lock behind
    assert result.status == "succeeded"
    assert retries(result, "Take the deployment lock") == []
    assert result.revision_after == HEAD
    assert locks == []


def test_an_older_push_than_the_one_serving_is_skipped_as_superseded(
    rehearsal: Rehearse,
) -> None:
    # GIVEN a newer image already deployed
    with rehearsal() as env:
        now = datetime.now(UTC)
        newer = env.push_event("release-3", when=now)
        older = env.push_event("release-2", when=now - timedelta(minutes=5))
        env.execute(newer)

        # WHEN the older push's run arrives late
        late = env.execute(older)

    # THEN it does nothing and says nothing: the newer image keeps serving
    assert late.status == "superseded"
    assert "Check database" not in late.path
    assert late.service == late.service_before
    assert late.service.image.endswith(f"@{newer['detail']['image-digest']}")
    assert late.events == []


def test_the_rehearsal_runs_the_template_definition_not_a_copy(rehearsal: Rehearse) -> None:
    # GIVEN the definition file, whose Lambda ARNs are DefinitionSubstitutions placeholders
    raw = json.loads(Path(RehearsalConfig().root, "statemachine", "deploy.asl.json").read_text())

    # WHEN the rehearsal creates its state machine
    with rehearsal() as env:
        created = boto3.client("stepfunctions", region_name=REGION).describe_state_machine(
            stateMachineArn=env.state_machine_arn
        )["definition"]
        registered = {
            arn for name, arn in env.resolver.attributes.items() if name.endswith("Function.Arn")
        }

    # THEN it is that file with every placeholder substituted: same states, the Lambdas are the
    # functions the rehearsal registered from template.yaml
    definition = json.loads(created)
    assert "${" not in created
    assert list(definition["States"]) == list(raw["States"])
    invoked = {
        state["Parameters"]["FunctionName"]
        for state in definition["States"].values()
        if str(state.get("Resource")).startswith("arn:aws:states:::lambda:invoke")
    }
    assert invoked == registered
