"""The operator's commands, run as an operator runs them, against moto's server over HTTP.

The tests of this module share one emulated account and run in order: the account starts empty,
then a push deploys, a failing push rolls back, and each command is checked against what the
account holds (read back with boto3, over HTTP too).
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pushgate_cli.operator import commands
from pushgate_cli.operator.account import StackRef, connect
from pushgate_cli.operator.errors import AwsConfigUnreadable

from tests.helpers import HEAD
from tests.operator.conftest import World, wait_until_done

pytestmark = pytest.mark.operator

UNKNOWN_DIGEST = "sha256:" + "0" * 64


def _deploy(world: World, tag: str, name: str) -> dict[str, Any]:
    """What the ECR push rule does: start the state machine with the push event."""
    machine = _outputs(world)["DeployStateMachineArn"]
    started = world.client("stepfunctions").start_execution(
        stateMachineArn=machine, name=name, input=json.dumps(world.push(tag))
    )
    done = wait_until_done(world, started["executionArn"])
    assert world.command("settle") == "ok"  # its announcement reached observe_outcome
    return done


def _outputs(world: World) -> dict[str, str]:
    stack = world.client("cloudformation").describe_stacks(StackName=world.stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def _executions(world: World) -> list[dict[str, Any]]:
    machine = _outputs(world)["DeployStateMachineArn"]
    found: list[dict[str, Any]] = world.client("stepfunctions").list_executions(
        stateMachineArn=machine
    )["executions"]
    return found


def test_status_before_any_run_says_so_in_one_line(pushgate: Any) -> None:
    # GIVEN the stack is deployed but nothing was ever pushed
    # WHEN the operator asks for the status
    result = pushgate("status")

    # THEN one line says there are no runs yet, exit 1, no traceback
    assert result.code == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no runs yet" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_shows_what_serves_after_a_push_deployed(world: World, pushgate: Any) -> None:
    # GIVEN a push of release-1 that the state machine deployed
    done = _deploy(world, "release-1", "push-release-1")
    assert done["status"] == "SUCCEEDED"
    digest = json.loads(done["input"])["detail"]["image-digest"]

    # WHEN the operator asks for the status, as text and as JSON
    text = pushgate("status")
    as_json = pushgate("status", "--json")

    # THEN it names the digest and tag serving, the run that put it there, and its console link
    assert text.code == 0, text.stderr
    assert f"shop/api@{digest} (release-1)" in text.stdout
    assert "push-release-1" in text.stdout
    assert "succeeded" in text.stdout
    assert "console.aws.amazon.com/states/home?region=us-east-1" in text.stdout
    # and the schema revision the run reached, from the serving record (no database read)
    assert f"schema    {HEAD}" in text.stdout
    assert "failures  0 in a row" in text.stdout
    status = json.loads(as_json.stdout)
    assert status["serving"]["digest"] == digest
    assert status["serving"]["tags"] == ["release-1"]
    service = world.client("ecs").describe_services(cluster="shop-dev", services=["shop-api"])
    assert status["service"]["task_definition"] == service["services"][0]["taskDefinition"]
    assert [r["outcome"] for r in status["runs"]] == ["succeeded"]


def test_history_lists_a_rolled_back_run_beside_the_succeeded_one(
    world: World, pushgate: Any
) -> None:
    # GIVEN a second push whose tasks fail to start (the run rolls back)
    assert world.command("rollout failing") == "ok"
    try:
        done = _deploy(world, "release-2", "push-release-2")
    finally:
        world.command("rollout healthy")
    assert done["status"] == "FAILED"

    # WHEN the operator lists the last day's runs as JSON and as a table
    as_json = pushgate("history", "--since", "24h", "--json")
    table = pushgate("history", "--since", "1d")

    # THEN both runs are there, newest first, with their outcomes
    assert as_json.code == 0, as_json.stderr
    runs = json.loads(as_json.stdout)
    assert [(r["name"], r["outcome"]) for r in runs] == [
        ("push-release-2", "rolled_back"),
        ("push-release-1", "succeeded"),
    ]
    assert all(r["duration_s"] is not None for r in runs)
    assert "rolled_back" in table.stdout
    # and the status counts it as one failure in a row, still at the revision release-1 reached
    status = json.loads(pushgate("status", "--json").stdout)
    assert status["serving"]["consecutive_failures"] == 1
    assert status["serving"]["revision"] == HEAD
    assert "push-release-1" in table.stdout


def test_history_of_a_period_without_runs_says_so(pushgate: Any) -> None:
    # WHEN the operator asks for the runs of the last 0 minutes (none started since now)
    result = pushgate("history", "--since", "0m")

    # THEN one line says there were none, exit 1
    assert result.code == 1
    assert "no runs of" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("since", "why"),
    [
        ("2099-01-01", "'2099-01-01' is in the future"),
        ("2099-01-01T00:00+02:00", "is in the future"),
        ("99999999d", "'99999999d' reaches back before the year 1"),
        ("9999999999d", "reaches back before the year 1"),
        ("yesterday", "expected 30m, 24h, 7d or a date"),
        ("9" * 5000 + "d", "expected 30m, 24h, 7d or a date"),  # past int()'s 4300 digits
    ],
)
def test_history_since_a_future_or_impossible_time_is_refused(
    pushgate: Any, since: str, why: str
) -> None:
    # WHEN the operator asks for the runs since a date in the future, or too far back to exist
    result = pushgate("history", "--since", since)

    # THEN it is refused as bad input in one line, exit 2, no traceback
    assert result.code == 2
    assert why in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_replay_of_a_tag_starts_a_run_pinned_to_its_digest(world: World, pushgate: Any) -> None:
    # GIVEN release-1 is in the repository (pushed and deployed above)
    before = len(_executions(world))

    # WHEN the operator replays it
    result = pushgate("replay", "release-1")

    # THEN one execution started, with a replay input naming the tag and the digest it points at
    assert result.code == 0, result.stderr
    executions = _executions(world)
    assert len(executions) == before + 1
    started = executions[0]
    assert started["name"] in result.stdout
    done = wait_until_done(world, started["executionArn"])
    replay_input = json.loads(done["input"])
    images = world.client("ecr").describe_images(
        repositoryName="shop/api", imageIds=[{"imageTag": "release-1"}]
    )
    assert replay_input == {
        "repository": "shop/api",
        "tag": "release-1",
        "digest": images["imageDetails"][0]["imageDigest"],
    }
    assert done["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (UNKNOWN_DIGEST, "holds no image"),
        ("never-pushed", "holds no image"),
        ("sha256:abc", "not a sha256: digest"),
        ("no spaces allowed", "neither an image tag nor"),
    ],
)
def test_replay_of_an_image_the_repository_does_not_hold_is_refused(
    world: World, pushgate: Any, image: str, why: str
) -> None:
    before = _executions(world)

    # WHEN the operator replays an image that is not in the repository, or is malformed
    result = pushgate("replay", image)

    # THEN it is refused in one line, exit 2, and nothing started
    assert result.code == 2
    assert "refused" in result.stderr
    assert why in result.stderr
    assert _executions(world) == before


def test_redrive_of_a_succeeded_run_is_refused(world: World, pushgate: Any) -> None:
    # WHEN the operator redrives the run that succeeded, and the one that rolled back
    succeeded = pushgate("redrive", "push-release-1")
    rolled_back = pushgate("redrive", "push-release-2")

    # THEN both are refused, saying why, and the rolled-back one points at a replay
    assert succeeded.code == 2
    assert "succeeded: there is nothing to redrive" in succeeded.stderr
    assert rolled_back.code == 2
    assert "rolled_back (DeploymentRolledBack)" in rolled_back.stderr
    assert "pushgate replay sha256:" in rolled_back.stderr
    # and nothing changed: both runs are still as they ended
    statuses = {e["name"]: e["status"] for e in _executions(world)}
    assert statuses["push-release-1"] == "SUCCEEDED"
    assert statuses["push-release-2"] == "FAILED"


def test_explain_prints_the_path_the_history_records(world: World, pushgate: Any) -> None:
    # GIVEN the rolled-back run
    arn = next(e["executionArn"] for e in _executions(world) if e["name"] == "push-release-2")
    history = world.client("stepfunctions").get_execution_history(
        executionArn=arn, maxResults=1000
    )["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
    ]

    # WHEN the operator explains it by ARN, as text and as JSON
    text = pushgate("explain", arn)
    as_json = pushgate("explain", "push-release-2", "--json")

    # THEN the path is the states the history entered, in order, and the outcome is named
    assert text.code == 0, text.stderr
    assert json.loads(as_json.stdout)["path"] == entered
    assert json.loads(as_json.stdout)["outcome"] == "rolled_back"
    positions = [text.stdout.index(f"  {name}") for name in dict.fromkeys(entered)]
    assert positions == sorted(positions)


def test_explain_writes_the_run_as_an_html_page(
    world: World, pushgate: Any, tmp_path: Path
) -> None:
    # GIVEN the rolled-back run and the states its history entered
    arn = next(e["executionArn"] for e in _executions(world) if e["name"] == "push-release-2")
    history = world.client("stepfunctions").get_execution_history(
        executionArn=arn, maxResults=1000
    )["events"]
    entered = {
        e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
    }

    # WHEN the operator explains it with --html
    page = tmp_path / "run.html"
    result = pushgate("explain", "push-release-2", "--html", str(page))

    # THEN one page is written: the graph drawn as taken exactly along the history's states,
    # the announcement's schema and service, and no reference to anything outside the file
    assert result.code == 0, result.stderr
    text = page.read_text()
    taken = re.findall(r'class="node state taken[^"]*">\s*<title>([^<]*)</title>', text)
    assert {html.unescape(name) for name in taken} == entered
    assert "Deployment Rolled Back" in text
    assert "(nothing applied)" in text  # release-1 had already brought the schema to head
    assert not re.search(r'(src|href)="https?:', text)


def test_explain_of_another_state_machines_execution_is_refused(
    world: World, pushgate: Any
) -> None:
    # GIVEN an execution ARN of another state machine in the same account
    other = "arn:aws:states:us-east-1:123456789012:execution:billing-deploy:push-1"
    before = _executions(world)

    # WHEN the operator explains it
    result = pushgate("explain", other)

    # THEN it is refused, naming both machines, exit 2, and nothing was started
    assert result.code == 2
    assert "billing-deploy" in result.stderr
    assert "not of pushgate-shop-dev" in result.stderr
    assert _executions(world) == before


@pytest.mark.parametrize(
    ("arguments", "environment", "line"),
    [
        ((), {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "no AWS credentials"),
        (("--region", "us-west-2"), {}, "stack pushgate-shop-dev not found in region us-west-2"),
        (("--config-env", "prod"), {}, "stack pushgate-shop-prod not found"),
        (("--config-env", "staging"), {}, "has no environment 'staging'"),
    ],
)
def test_the_errors_an_operator_meets_are_one_line_each(
    pushgate: Any, arguments: tuple[str, ...], environment: dict[str, str | None], line: str
) -> None:
    # WHEN the operator's shell lacks credentials, names the wrong region or environment
    result = pushgate("status", *arguments, **environment)

    # THEN one line says which, without a traceback
    assert result.code in (1, 2)
    assert line in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def _one_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return str(lines[0])


def _failing_credential_process(tmp_path: Path) -> Path:
    script = tmp_path / "credentials.sh"
    script.write_text(f"#!/bin/sh\necho 'token {SECRET}' >&2\necho '{SECRET}'\nexit 3\n")
    script.chmod(0o755)
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = {script}\n")
    return config


SECRET = "S3cr3t-from-the-vault-4711"


@pytest.mark.parametrize(
    ("arguments", "environment", "code", "line"),
    [
        (
            ("--region", "bad region!"),
            {},
            2,
            "refused: 'bad region!' is not an AWS region name",
        ),
        ((), {"AWS_DEFAULT_REGION": "bad region!"}, 2, "'bad region!' is not an AWS region"),
        (
            (),
            {"AWS_SECRET_ACCESS_KEY": None},
            1,
            "partial AWS credentials in env: AWS_SECRET_ACCESS_KEY is missing",
        ),
        (("--profile", "nowhere"), {}, 1, "no AWS profile 'nowhere'"),
    ],
)
def test_a_bad_region_or_partial_credentials_are_one_line_each(
    pushgate: Any,
    arguments: tuple[str, ...],
    environment: dict[str, str | None],
    code: int,
    line: str,
) -> None:
    # WHEN the operator's region is malformed, or the shell holds half a key pair
    result = pushgate("status", *arguments, **environment)

    # THEN one line says which, with its exit code (2: refused input, 1: credentials)
    assert result.code == code
    assert line in _one_line(result)


def test_a_failing_credential_process_is_one_line_without_its_output(
    pushgate: Any, tmp_path: Path
) -> None:
    # GIVEN a profile whose credential_process fails, writing a secret to its output
    config = _failing_credential_process(tmp_path)

    # WHEN the operator runs a command with it
    result = pushgate(
        "status", AWS_CONFIG_FILE=str(config), AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None
    )

    # THEN one line says the credential process failed, exit 1, and the secret is nowhere
    assert result.code == 1
    assert "getting AWS credentials from the profile's credential_process failed" in _one_line(
        result
    )
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "process",
    [
        None,  # the command does not exist
        f"#!/bin/sh\necho 'not json {SECRET}'\n",  # exits 0, prints no JSON
        f"#!/bin/sh\necho '[\"{SECRET}\"]'\n",  # exits 0, prints JSON that is not an object
    ],
    ids=["missing", "not JSON", "not an object"],
)
def test_a_credential_process_botocore_cannot_use_is_one_line_without_its_output(
    pushgate: Any, tmp_path: Path, process: str | None
) -> None:
    # GIVEN a profile whose credential_process is missing, or prints what botocore cannot read
    script = tmp_path / "credentials.sh"
    if process is not None:
        script.write_text(process)
        script.chmod(0o755)
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = {script}\n")

    # WHEN the operator runs a command with it
    result = pushgate(
        "status", AWS_CONFIG_FILE=str(config), AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None
    )

    # THEN one line, exit 1, and nothing the process printed
    assert result.code == 1
    assert "credential_process" in _one_line(result)
    assert SECRET not in result.stderr + result.stdout


def test_a_malformed_aws_config_is_one_line(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an AWS config file that does not parse (a section header never closed)
    config = tmp_path / "config"
    config.write_text("[default\nregion = us-east-1\n")
    for key, value in world.environ(AWS_CONFIG_FILE=str(config)).items():
        monkeypatch.setenv(key, value)

    # WHEN an operator command connects
    with pytest.raises(AwsConfigUnreadable) as raised:
        connect(StackRef(world.stack, None, None), profile=None, region=None)

    # THEN the error is one line naming the file
    assert str(raised.value).splitlines() == [
        f"cannot parse the AWS config file {config}: fix it, or point AWS_CONFIG_FILE at another"
    ]


def test_pushgate_with_a_malformed_aws_config_prints_one_line(
    pushgate: Any, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text("[default\nregion = us-east-1\n")
    result = pushgate("status", AWS_CONFIG_FILE=str(config))
    assert result.code == 1
    assert "cannot parse the AWS config file" in _one_line(result)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xfe[dev]\n", "is not UTF-8 text"),
        (b"[dev]\ndeploy = 1\n", "environment 'dev' has no [dev.deploy.parameters] table"),
        (b'[dev.deploy]\nparameters = "x"\n', "has no [dev.deploy.parameters] table"),
        (b"[dev.deploy.parameters\n", "is not TOML"),
        (b'[dev.deploy.parameters]\nregion = "us-east-1"\n', "no stack_name"),
        (b'[dev.deploy.parameters]\nstack_name = "s"\nregion = 5\n', "region that is not"),
    ],
)
def test_a_broken_samconfig_is_refused_in_one_line(
    pushgate: Any, tmp_path: Path, content: bytes, why: str
) -> None:
    # GIVEN a samconfig.toml that is not UTF-8, not TOML, or not shaped as sam writes it
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_bytes(content)

    # WHEN the operator points a command at it
    result = pushgate("status", "--samconfig", str(samconfig))

    # THEN it is refused as bad input in one line, exit 2
    assert result.code == 2
    assert why in _one_line(result)


def test_a_samconfig_that_does_not_exist_is_refused(pushgate: Any) -> None:
    result = pushgate("history", "--samconfig", "/nonexistent/samconfig.toml")

    assert result.code == 2
    assert "cannot read /nonexistent/samconfig.toml: No such file or directory" in _one_line(result)


def _stack_like_the_worlds(world: World, name: str, **outputs: str) -> str:
    """Another stack with the world's outputs, some of them changed."""
    body = {
        "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {k: {"Value": v} for k, v in {**_outputs(world), **outputs}.items()},
    }
    world.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(body))
    return name


def test_status_reports_a_serving_record_whose_run_is_no_longer_kept(
    world: World, pushgate: Any
) -> None:
    # GIVEN a serving record written by a run Step Functions no longer keeps (over 90 days ago)
    outputs = _outputs(world)
    machine = outputs["DeployStateMachineArn"]
    serving = world.client("dynamodb").get_item(
        TableName=outputs["LockTableName"], Key={"lock_id": {"S": outputs["ServingRecordId"]}}
    )["Item"]
    expired = machine.replace(":stateMachine:", ":execution:") + ":push-long-ago"
    world.client("dynamodb").put_item(
        TableName=outputs["LockTableName"],
        Item={
            **serving,
            "lock_id": {"S": "shop-dev/shop-api#serving-old"},
            "execution": {"S": expired},
        },
    )
    stack = _stack_like_the_worlds(
        world, "pushgate-shop-old", ServingRecordId="shop-dev/shop-api#serving-old"
    )

    # WHEN the operator asks for the status
    text = pushgate("status", "--stack", stack)
    as_json = pushgate("status", "--stack", stack, "--json")

    # THEN it reports the record and the service, and says the run's history is gone
    assert text.code == 0, text.stderr
    assert f"shop/api@{serving['digest']['S']}" in text.stdout
    assert f"pushed {serving['pushed_at']['S']}" in text.stdout
    assert "run push-long-ago: Step Functions no longer keeps its history" in text.stdout
    service = world.client("ecs").describe_services(cluster="shop-dev", services=["shop-api"])
    assert service["services"][0]["taskDefinition"].rsplit("/", 1)[-1] in text.stdout
    found = json.loads(as_json.stdout)
    assert found["serving"]["run_kept"] is False
    assert found["serving"]["since"] is None


def test_status_of_a_stack_whose_cluster_is_gone_says_the_service_is_not_found(
    world: World, pushgate: Any
) -> None:
    # GIVEN a stack whose cluster no longer exists
    stack = _stack_like_the_worlds(world, "pushgate-shop-gone", ClusterName="shop-gone")

    # WHEN the operator asks for the status
    result = pushgate("status", "--stack", stack)

    # THEN it still reports, saying the service is not found for want of its cluster
    assert result.code == 0, result.stderr
    assert "service   shop-api on shop-gone: not found (no cluster shop-gone)" in result.stdout
    assert "shop/api@sha256:" in result.stdout


def test_status_of_a_deleted_service_says_it_is_deleted(world: World, pushgate: Any) -> None:
    # GIVEN a stack whose service was deleted (ECS still describes it, INACTIVE)
    ecs = world.client("ecs")
    serving = ecs.describe_services(cluster="shop-dev", services=["shop-api"])["services"][0]
    ecs.create_cluster(clusterName="shop-deleted")
    ecs.create_service(
        cluster="shop-deleted",
        serviceName="shop-api",
        taskDefinition=serving["taskDefinition"],
        desiredCount=0,
    )
    ecs.delete_service(cluster="shop-deleted", service="shop-api")
    stack = _stack_like_the_worlds(world, "pushgate-shop-deleted", ClusterName="shop-deleted")

    # WHEN the operator asks for the status
    text = pushgate("status", "--stack", stack)
    as_json = pushgate("status", "--stack", stack, "--json")

    # THEN the service line says it is deleted, not only its last revision and counts
    assert text.code == 0, text.stderr
    revision = serving["taskDefinition"].rsplit("/", 1)[-1]
    assert f"service   shop-api on shop-deleted: INACTIVE (deleted), {revision}, 0/0 running" in (
        text.stdout
    )
    assert json.loads(as_json.stdout)["service"]["status"] == "INACTIVE"


def test_two_replays_of_one_image_in_the_same_second_are_two_runs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the operator's shell pointed at the account, and one moment for both replays
    for key, value in world.environ().items():
        monkeypatch.setenv(key, value)
    deployment = connect(StackRef(world.stack, None, None), profile=None, region=None)
    before = {e["name"] for e in _executions(world)}
    now = datetime.now(UTC)

    # WHEN two replays of release-1 start in the same second
    first = commands.replay(deployment, "release-1", now=now)
    second = commands.replay(deployment, "release-1", now=now)

    # THEN each names its own execution, and both exist
    assert first.name != second.name
    assert first.arn != second.arn
    started = {e["name"] for e in _executions(world)} - before
    assert started == {first.name, second.name}
    for arn in (first.arn, second.arn):
        assert wait_until_done(world, arn)["status"] == "SUCCEEDED"
