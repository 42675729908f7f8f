"""The layer on Lambda's Python: every handler imported and invoked under python3.13.

GIVEN the layer built by its own Makefile for this machine (the same pins, the same traced byte
code as `sam build`, host wheels instead of aarch64 ones), read-only, with the runtime's boto3
(layers/pushgate/runtime-sdk.txt) after it on the path, no site-packages, no user site and
PYTHONDONTWRITEBYTECODE, as Lambda's python3.13 runs it; a real PostgreSQL (embedded) whose
connection is a Secrets Manager secret, and the ECS service, in moto's server (its own
python3.13 venv, reached over HTTP, so nothing of moto's is on the handlers' path).
WHEN each handler's process starts and is invoked once.
THEN it answers what it answers in AWS, its cold start found byte code for every module it
loaded from the layer (or tried: an optional import that fails on Linux is compiled all the
same), and nothing was written into the layer. A layer missing a dependency
fails the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import boto3
import pg8000.native
import pytest
from pushgate import settings
from pushgate.database import parse_database_url
from pushgate_cli.embedded import EmbeddedPostgres
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.lambda_python import (
    REGION,
    ColdStartFailed,
    LambdaPython,
    build_host_layer,
    find_python313,
    is_python313,
    lambda_environment,
)
from pushgate_cli.template import (
    Resolver,
    function_environment,
    function_setting,
    load_template,
    samconfig_parameters,
)
from pushgate_cli.tools import LOCAL_SQUAWK

from tests.helpers import load_event

pytestmark = pytest.mark.smoke

CONFIG_ENV = "dev"
SNAPSHOT_INSTANCE = "smoke-db"
MOTO_VENV = REPO_ROOT / ".pushgate" / "moto-server-py313"  # cached across runs
DIGEST = "sha256:" + "ab" * 32
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def _moto_pin() -> str:
    for line in (REPO_ROOT / "requirements" / "dev.txt").read_text().splitlines():
        if line.startswith("moto["):
            return "moto[server]==" + line.split("==", 1)[1].split()[0]
    raise AssertionError("requirements/dev.txt pins no moto")


@pytest.fixture(scope="session")
def python313() -> str:
    found = find_python313()
    if found is None:
        pytest.fail("no CPython 3.13 (python3.13 on PATH, or pyenv's 3.13.0): pyenv install 3.13.0")
    return found


# `make smoke-arm64` runs these tests on the real aarch64 layer (the one `sam build` ships) with
# Debian's arm64 python3.13 under qemu-user: it names that interpreter (a wrapper script), the
# layer's python/ (read-only) and the runtime's SDK. Unset (`make test`): the host layer, built
# here.
ARM64_PYTHON: Final = "PUSHGATE_SMOKE_ARM64_PYTHON"
ARM64_LAYER: Final = "PUSHGATE_SMOKE_ARM64_LAYER"
ARM64_RUNTIME_SDK: Final = "PUSHGATE_SMOKE_ARM64_RUNTIME_SDK"
ARM64_TIMEOUT_S: Final = 600  # an emulated start of run_migrations takes seconds, not ms


@pytest.fixture(scope="session")
def lambda_python(python313: str, tmp_path_factory: pytest.TempPathFactory) -> LambdaPython:
    arm64 = [os.environ.get(name) for name in (ARM64_PYTHON, ARM64_LAYER, ARM64_RUNTIME_SDK)]
    if not any(arm64):
        return build_host_layer(tmp_path_factory.mktemp("layer-py313"), python313)
    python, layer, sdk = arm64
    if not (python and layer and sdk):
        pytest.fail(f"set all of {ARM64_PYTHON}, {ARM64_LAYER} and {ARM64_RUNTIME_SDK}, or none")
    if not is_python313(python):
        pytest.fail(f"{ARM64_PYTHON}={python} does not run CPython 3.13")
    return LambdaPython(python, Path(layer), Path(sdk), timeout_s=ARM64_TIMEOUT_S)


@pytest.fixture(scope="session")
def moto_endpoint(python313: str) -> Iterator[str]:
    """moto's server on loopback, from a python3.13 venv kept under .pushgate/."""
    pin = _moto_pin()
    stamp = MOTO_VENV / "pushgate-installed.txt"
    if not stamp.is_file() or stamp.read_text() != pin:
        shutil.rmtree(MOTO_VENV, ignore_errors=True)
        subprocess.run([python313, "-m", "venv", str(MOTO_VENV)], check=True)
        subprocess.run(
            [
                str(MOTO_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                pin,
            ],
            check=True,
            capture_output=True,
        )
        stamp.write_text(pin)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = subprocess.Popen(
        [
            str(MOTO_VENV / "bin" / "python"),
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto's server did not come up")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@dataclass(frozen=True)
class Stack:
    """The emulated stack: each function's environment as template.yaml gives it."""

    environments: Mapping[str, dict[str, str]]  # functions/<name> -> its environment
    memory: Mapping[str, int]
    database_url: str
    image_repository: str
    endpoint: str


def _aws(endpoint: str, service: str) -> Any:
    credentials = {name.lower(): value for name, value in FAKE_CREDENTIALS.items()}
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, **credentials)


@pytest.fixture(scope="session")
def stack(moto_endpoint: str) -> Iterator[Stack]:
    template = load_template(REPO_ROOT / "template.yaml")
    parameters = samconfig_parameters(REPO_ROOT / "samconfig.toml", CONFIG_ENV)
    with EmbeddedPostgres() as server:
        url = server.create_database("smoke313")
        db = parse_database_url(url)
        secret = _aws(moto_endpoint, "secretsmanager").create_secret(
            Name="pushgate/smoke/database",
            SecretString=json.dumps(
                {
                    "engine": "postgres",
                    "host": db.host,
                    "port": db.port,
                    "username": db.user,
                    "password": db.password,
                    "dbname": db.database,
                }
            ),
        )
        lock_table = template["Resources"]["LockTable"]["Properties"]
        _aws(moto_endpoint, "dynamodb").create_table(
            TableName="pushgate-smoke-locks",
            KeySchema=lock_table["KeySchema"],
            AttributeDefinitions=lock_table["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        resolver = Resolver(
            template,
            # the bundled scripts: no registry here (the image source: tests/integration); dev
            # takes no snapshots: the snapshot functions get an instance to work on
            {
                **parameters,
                "DatabaseSecretArn": secret["ARN"],
                "MigrationsSource": "bundled",
                "DatabaseSnapshot": "always",
                "DatabaseInstanceId": SNAPSHOT_INSTANCE,
            },
            refs={
                **{name: f"pushgate-{name}" for name in template["Resources"]},
                "LockTable": "pushgate-smoke-locks",
            },
            region=REGION,
        )
        ecs = _aws(moto_endpoint, "ecs")
        cluster, service = resolver.ref("ClusterName"), resolver.ref("ServiceName")
        repository = resolver.ref("RepositoryName")
        ecs.create_cluster(clusterName=cluster)
        registered = ecs.register_task_definition(
            family=service,
            executionRoleArn=resolver.ref("TaskExecutionRoleArn"),
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": resolver.ref("ContainerName"),
                    "image": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{repository}:previous",
                    "essential": True,
                }
            ],
        )
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=registered["taskDefinition"]["taskDefinitionArn"],
            desiredCount=2,
            launchType="FARGATE",
        )
        environments, memory = {}, {}
        for logical_id, spec in template["Resources"].items():
            if spec.get("Type") != "AWS::Serverless::Function":
                continue
            name = Path(str(function_setting(template, logical_id, "CodeUri", resolver))).name
            environments[name] = function_environment(template, resolver, logical_id)
            if settings.SQUAWK_PATH in environments[name]:  # the squawk layer's, for this host
                environments[name][settings.SQUAWK_PATH] = str(LOCAL_SQUAWK)
            memory[name] = int(function_setting(template, logical_id, "MemorySize", resolver))
        yield Stack(environments, memory, url, repository, moto_endpoint)


def invoke(lambda_python: LambdaPython, stack: Stack, endpoint: str, name: str, event: Any) -> Any:
    """Start the function's process, invoke it once; its result (or the test fails)."""
    function_dir = REPO_ROOT / "functions" / name
    extra = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "_X_AMZN_TRACE_ID": TRACE_HEADER}
    env = lambda_environment(
        name, function_dir, stack.memory[name], stack.environments[name], extra
    )
    started = lambda_python.run(function_dir, env, event, watch_compiles=True)
    assert started.cold_start_errors == [], started.cold_start_errors
    assert started.invocation is not None
    assert "result" in started.invocation, started.invocation
    layer = lambda_python.layer.resolve()
    from_layer = [Path(f).resolve() for f in started.files if f.endswith(".py")]
    from_layer = [f for f in from_layer if f.is_relative_to(layer)]
    assert from_layer, f"{name} loaded nothing from the layer"
    without_byte_code = [
        str(f.relative_to(layer))
        for f in from_layer
        if not (f.parent / "__pycache__" / f"{f.stem}.cpython-313.pyc").is_file()
    ]
    assert without_byte_code == [], f"{name}'s cold start compiled these from source"
    # nor any it tried and did not keep (an optional import that fails on Linux)
    assert _in_layer(started.compiled, layer) == [], f"{name}'s cold start compiled these"
    # nor any that its first invocation imports (a function-local import, a lazy provider)
    first_call = _in_layer(started.first_call_compiled, layer)
    assert first_call == [], f"{name}'s first invocation compiled these from source"
    return started.invocation["result"]


def _in_layer(files: list[str], layer: Path) -> list[str]:
    paths = [Path(f).resolve() for f in files]
    return sorted(str(p.relative_to(layer)) for p in paths if p.is_relative_to(layer))


def _files(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_size for p in directory.rglob("*")}


# What each function is asked, and what a person checks in its answer.
def test_every_function_of_the_stack_is_smoke_tested(stack: Stack) -> None:
    handlers = {p.parent.name for p in (REPO_ROOT / "functions").glob("*/app.py")}
    assert set(stack.environments) == handlers
    assert handlers <= set(CASES), f"no smoke case for {sorted(handlers - set(CASES))}"


def _check_database(run: Any, stack: Stack) -> None:
    result = run({})
    assert result["ready"] is True
    assert result["in_recovery"] is False


def _run_migrations(run: Any, stack: Stack) -> None:
    # the review first, from base: the bundled chain, under dev's SchemaPolicy warn, by squawk
    # itself (the layer's SquawkLayer, here the same version beside this interpreter)
    review = run({"action": "review", "from_revision": None, "server_version": "18.6"})
    assert (review["policy"], review["squawk"]) == ("warn", "2.68.0")
    assert sum(review["counts"].values()) == 3
    assert review["verdict"] == "blocks-serving"  # c47a91e2b5d8's plain CREATE INDEX
    result = run({"action": "upgrade", "target": "head"})
    assert result["action"] == "upgrade"
    db = parse_database_url(stack.database_url)
    connection = pg8000.native.Connection(
        db.user, host=db.host, port=db.port, database=db.database, password=db.password
    )
    try:
        ((revision,),) = connection.run("SELECT version_num FROM alembic_version")
    finally:
        connection.close()
    assert revision == result["to_revision"]


def _prepare_rollout(run: Any, stack: Stack) -> None:
    result = run(
        {
            "repository": stack.image_repository,
            "digest": DIGEST,
            "tag": "v1",
            "account": "123456789012",
            "region": REGION,
        }
    )
    assert result["image"].endswith(f"/{stack.image_repository}@{DIGEST}")
    assert result["task_definition"] != result["previous_task_definition"]
    assert result["desired_count"] == 2


def _describe_push(run: Any, stack: Stack) -> None:
    replay = {"repository": stack.image_repository, "digest": DIGEST}
    result = run({"input": replay, "started_at": "2026-12-01T09:00:00.000Z"})
    assert result["source"] == "replay"
    assert (result["repository"], result["digest"]) == (stack.image_repository, DIGEST)


def _compensate_run(run: Any, stack: Stack) -> None:
    # an aborted run of the deploy machine that had recorded nothing: nothing to undo
    environment = stack.environments["compensate_run"]
    machine_arn = environment["DEPLOY_STATE_MACHINE_ARN"]
    sfn = _aws(stack.endpoint, "stepfunctions")
    created = sfn.create_state_machine(
        name=machine_arn.rsplit(":", 1)[-1],
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/pushgate-smoke",
    )
    assert created["stateMachineArn"] == machine_arn
    execution = sfn.start_execution(stateMachineArn=machine_arn, name="smoke-aborted")
    sfn.stop_execution(executionArn=execution["executionArn"])
    result = run(
        {
            "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "detail": {
                "executionArn": execution["executionArn"],
                "stateMachineArn": machine_arn,
                "status": "ABORTED",
            },
        }
    )
    assert result["outcome"] == "nothing_to_undo"
    assert result["steps"] == []


def _observe_outcome(run: Any, stack: Stack) -> None:
    announcement = load_event("pushgate_deployment_succeeded")
    result = run(announcement)
    assert result["outcome"] == "succeeded"
    assert result["execution_arn"] == announcement["detail"]["execution_arn"]


def _take_snapshot(stack: Stack, identifier: str, marker: str) -> None:
    rds = _aws(stack.endpoint, "rds")
    if not rds.describe_db_instances()["DBInstances"]:
        rds.create_db_instance(
            DBInstanceIdentifier=SNAPSHOT_INSTANCE,
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="pushgate",
            MasterUserPassword="smoke-test-only-0",
        )
    rds.create_db_snapshot(
        DBInstanceIdentifier=SNAPSHOT_INSTANCE,
        DBSnapshotIdentifier=identifier,
        Tags=[{"Key": "pushgate:snapshot", "Value": marker}],
    )


def _await_snapshot(run: Any, stack: Stack) -> None:
    request = load_event("await_snapshot")
    _take_snapshot(stack, request["id"], "smoke/await")
    result = run(request)
    assert (result["id"], result["status"], result["kind"]) == (
        request["id"],
        "available",
        "instance",
    )


def _prune_snapshots(run: Any, stack: Stack) -> None:
    marker = stack.environments["prune_snapshots"][settings.SNAPSHOT_MARKER]
    _take_snapshot(stack, "pushgate-smoke-0123456789ab-20261201-090000", marker)
    result = run(load_event("pushgate_deployment_succeeded"))
    assert result["kept"] == ["pushgate-smoke-0123456789ab-20261201-090000"]
    assert result["deleted"] == []


def _take_lock(run: Any, stack: Stack) -> None:
    request = load_event("take_lock")
    result = run(request)
    assert result == {"superseded": False, "taken_over": None}
    again = run(request)  # the owner takes its own lock again, as a redrive does
    assert again["superseded"] is False


def _describe_outcome(run: Any, stack: Stack) -> None:
    result = run(load_event("describe_outcome"))
    assert result["detail_type"] == "Deployment Succeeded"
    assert result["detail"]["to_revision"] == "c47a91e2b5d8"


def _wake_rollout(run: Any, stack: Stack) -> None:
    park = load_event("wake_rollout_park")
    assert run(park)["outcome"] == "parked"
    environment = stack.environments["wake_rollout"]
    cluster, service = environment[settings.CLUSTER_NAME], environment[settings.SERVICE_NAME]
    event = load_event("ecs_deployment_completed")
    event["resources"] = [f"arn:aws:ecs:{REGION}:123456789012:service/{cluster}/{service}"]
    event["detail"]["deploymentId"] = "ecs-svc/another"  # not the parked deployment
    assert run(event)["outcome"] == "ignored"


def _migration_task(run: Any, stack: Stack) -> None:
    result = run(load_event("migration_task_prepare"))
    (upgrade,) = result["upgrade"]["Overrides"]["ContainerOverrides"]
    (downgrade,) = result["downgrade"]["Overrides"]["ContainerOverrides"]
    assert upgrade["Command"] == ["alembic", "upgrade", "head"]  # the template's default
    assert downgrade["Command"] == ["alembic", "downgrade", "base"]  # from_revision null


CASES = {
    "migration_task": _migration_task,
    "await_snapshot": _await_snapshot,
    "prune_snapshots": _prune_snapshots,
    "compensate_run": _compensate_run,
    "describe_push": _describe_push,
    "wake_rollout": _wake_rollout,
    "take_lock": _take_lock,
    "describe_outcome": _describe_outcome,
    "observe_outcome": _observe_outcome,
    "check_database": _check_database,
    "run_migrations": _run_migrations,
    "prepare_rollout": _prepare_rollout,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_handler_starts_and_answers_on_python313(
    name: str, lambda_python: LambdaPython, stack: Stack, moto_endpoint: str
) -> None:
    # GIVEN the read-only layer as Lambda mounts it
    before = _files(lambda_python.layer)
    # WHEN the function's process starts and is invoked / THEN it answers as in AWS
    CASES[name](lambda event: invoke(lambda_python, stack, moto_endpoint, name, event), stack)
    # and nothing was compiled into the layer on the way
    assert _files(lambda_python.layer) == before


def test_a_layer_missing_a_dependency_fails_the_same_run(
    lambda_python: LambdaPython, stack: Stack, moto_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN the same layer without Mako (alembic renders with it: run_migrations needs it)
    broken = tmp_path / "python"
    shutil.copytree(lambda_python.layer, broken, symlinks=True)
    for path in [broken / "mako", *broken.glob("[Mm]ako-*.dist-info")]:
        shutil.rmtree(path)
    # WHEN run_migrations starts on it / THEN its cold start fails, naming what is missing
    with pytest.raises(ColdStartFailed) as failed:
        invoke(
            replace(lambda_python, layer=broken),
            stack,
            moto_endpoint,
            "run_migrations",
            {"action": "plan"},
        )
    assert failed.value.error_type == "ModuleNotFoundError"
    assert failed.value.missing_module == "mako"


@pytest.mark.parametrize(
    ("source", "reader_loaded"), [("bundled", False), ("image", True)], ids=["bundled", "image"]
)
def test_run_migrations_loads_the_image_reader_only_to_read_images(
    source: str, reader_loaded: bool, lambda_python: LambdaPython, stack: Stack
) -> None:
    # GIVEN run_migrations' environment with MigrationsSource bundled, or image
    name = "run_migrations"
    function_dir = REPO_ROOT / "functions" / name
    own = {**stack.environments[name], settings.MIGRATIONS_SOURCE: source}
    env = lambda_environment(name, function_dir, stack.memory[name], own, FAKE_CREDENTIALS)
    # WHEN its process starts
    started = lambda_python.run(function_dir, env)
    # THEN it starts cleanly, and the registry reader (http.client, tarfile) is loaded only
    # where it will read an image: the bundled scripts' cold start does not pay for it
    assert started.cold_start_errors == []
    assert "pushgate.image.reference" in started.modules
    loaded = {m for m in ("pushgate.image.reader", "http.client") if m in started.modules}
    assert loaded == ({"pushgate.image.reader", "http.client"} if reader_loaded else set())
