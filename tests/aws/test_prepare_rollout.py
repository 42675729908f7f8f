"""The prepare_rollout handler against an emulated ECS (moto, in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws
from pushgate import settings
from pushgate.errors import ContainerNotFound, InvalidRequest, ServiceNotFound
from pushgate_cli.handlers import load_handler

from tests.helpers import modules_after_cold_start

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.aws

REGION = "us-west-2"
ACCOUNT = "123456789012"
CLUSTER = "apps"
SERVICE = "web"
DIGEST = "sha256:" + "7f" * 32
OTHER_DIGEST = "sha256:" + "c3" * 32
OLD_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/my-repository-name:1.4.0"
SIDECAR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"


def push_event(digest: str = DIGEST, **overrides: Any) -> dict[str, Any]:
    """The input the state machine's "Roll out image" state sends."""
    return {
        "repository": "my-repository-name",
        "digest": digest,
        "tag": "latest",
        "account": ACCOUNT,
        "region": REGION,
        **overrides,
    }


@pytest.fixture
def ecs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An ECS cluster with service "web" (desired 3) on task definition web:1 (app + otel)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv(settings.CLUSTER_NAME, CLUSTER)
    monkeypatch.setenv(settings.SERVICE_NAME, SERVICE)
    monkeypatch.setenv(settings.CONTAINER_NAME, "app")
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName=CLUSTER)
        registered = client.register_task_definition(
            family="web",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-execution",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": OLD_IMAGE,
                    "essential": True,
                    "portMappings": [{"containerPort": 8000, "protocol": "tcp"}],
                    "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                },
                {"name": "otel", "image": SIDECAR_IMAGE, "essential": False},
            ],
            tags=[{"key": "team", "value": "payments"}],
        )
        client.create_service(
            cluster=CLUSTER,
            serviceName=SERVICE,
            taskDefinition=registered["taskDefinition"]["taskDefinitionArn"],
            desiredCount=3,
        )
        yield client


@pytest.fixture
def handler(ecs: Any) -> ModuleType:
    """The handler, cold-started inside the emulated account."""
    return load_handler("prepare_rollout", fresh=True)


def current_task_definition(ecs: Any) -> str:
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    return str(service["taskDefinition"])


def revisions(ecs: Any) -> list[str]:
    return list(ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"])


def containers(ecs: Any, arn: str) -> dict[str, dict[str, Any]]:
    td = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return {c["name"]: c for c in td["containerDefinitions"]}


def test_registers_a_revision_pinning_the_digest(
    ecs: Any, handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN the service runs web:1 with three tasks
    before = current_task_definition(ecs)
    # WHEN a push of a new digest is prepared
    result = handler.lambda_handler(push_event(), lambda_context)
    # THEN a new revision exists whose app container pulls repository@digest
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/my-repository-name@{DIGEST}"
    assert result["image"] == image
    assert result["reused"] is False
    assert result["task_definition"] not in (before, None)
    assert result["task_definition"] in revisions(ecs)
    new = containers(ecs, result["task_definition"])
    assert new["app"]["image"] == image
    # AND the rest of the definition is the previous one's
    old = containers(ecs, before)
    assert new["otel"] == old["otel"]
    assert new["app"]["environment"] == old["app"]["environment"]
    assert new["app"]["portMappings"] == old["app"]["portMappings"]
    # AND the previous revision and desired count are reported for a rollback
    assert result["previous_task_definition"] == before
    assert result["desired_count"] == 3
    # AND the service itself is not touched
    assert current_task_definition(ecs) == before


def test_the_same_digest_reuses_its_revision(
    ecs: Any, handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN a digest already prepared once
    first = handler.lambda_handler(push_event(), lambda_context)
    count = len(revisions(ecs))
    # WHEN it is prepared again (a retry, a replay, a redrive)
    again = handler.lambda_handler(push_event(), lambda_context)
    # THEN the same revision is returned and nothing new is registered
    assert again["task_definition"] == first["task_definition"]
    assert again["reused"] is True
    assert len(revisions(ecs)) == count


def test_the_serving_revision_is_reused(
    ecs: Any, handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN the service already runs the revision pinning the digest
    prepared = handler.lambda_handler(push_event(), lambda_context)
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=prepared["task_definition"])
    count = len(revisions(ecs))
    # WHEN the digest is prepared again
    result = handler.lambda_handler(push_event(), lambda_context)
    # THEN the serving revision is both the previous and the one to roll out
    assert result["task_definition"] == prepared["task_definition"]
    assert result["previous_task_definition"] == prepared["task_definition"]
    assert result["reused"] is True
    assert len(revisions(ecs)) == count


def test_another_digest_gets_its_own_revision(
    ecs: Any, handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN one digest prepared
    first = handler.lambda_handler(push_event(), lambda_context)
    # WHEN another digest is prepared
    second = handler.lambda_handler(push_event(OTHER_DIGEST), lambda_context)
    # THEN it gets a different revision pinning the other digest
    assert second["task_definition"] != first["task_definition"]
    assert second["reused"] is False
    assert containers(ecs, second["task_definition"])["app"]["image"].endswith(OTHER_DIGEST)


def test_a_malformed_digest_changes_nothing(
    ecs: Any, handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN the digest from AWS's sample event, which is 60 hex digits, not 64
    count = len(revisions(ecs))
    bad = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234"
    # WHEN it is prepared THEN InvalidRequest is raised and nothing is registered
    with pytest.raises(InvalidRequest):
        handler.lambda_handler(push_event(bad), lambda_context)
    assert len(revisions(ecs)) == count


def test_an_unknown_container_is_reported(
    ecs: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    # GIVEN CONTAINER_NAME names a container the task definition does not have
    monkeypatch.setenv(settings.CONTAINER_NAME, "worker")
    handler = load_handler("prepare_rollout", fresh=True)
    count = len(revisions(ecs))
    # WHEN a push is prepared THEN ContainerNotFound is raised and nothing is registered
    with pytest.raises(ContainerNotFound):
        handler.lambda_handler(push_event(), lambda_context)
    assert len(revisions(ecs)) == count


@pytest.mark.parametrize(
    ("setting", "value"), [(settings.SERVICE_NAME, "api"), (settings.CLUSTER_NAME, "other")]
)
def test_an_unknown_service_is_reported(
    ecs: Any,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
    lambda_context: LambdaContext,
) -> None:
    # GIVEN the settings name a service or cluster that does not exist
    monkeypatch.setenv(setting, value)
    handler = load_handler("prepare_rollout", fresh=True)
    # WHEN a push is prepared THEN ServiceNotFound is raised
    with pytest.raises(ServiceNotFound):
        handler.lambda_handler(push_event(), lambda_context)


def test_a_deleted_service_is_reported(
    ecs: Any, handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN the service was scaled in and deleted (it is no longer ACTIVE)
    ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=0)
    ecs.delete_service(cluster=CLUSTER, service=SERVICE)
    # WHEN a push is prepared THEN ServiceNotFound is raised
    with pytest.raises(ServiceNotFound):
        handler.lambda_handler(push_event(), lambda_context)


@pytest.mark.parametrize(
    "missing", [settings.CLUSTER_NAME, settings.SERVICE_NAME, settings.CONTAINER_NAME]
)
def test_a_missing_setting_fails_the_cold_start(
    ecs: Any, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    # GIVEN one of the required settings is not set
    monkeypatch.delenv(missing)
    # WHEN the function cold-starts THEN it fails with InvalidRequest naming nothing else
    with pytest.raises(InvalidRequest):
        load_handler("prepare_rollout", fresh=True)


def test_cold_start_with_tracing_imports_no_database_library() -> None:
    """GIVEN a fresh interpreter with tracing on, as in AWS WHEN prepare_rollout cold-starts THEN
    it has not paid for SQLAlchemy, alembic or pg8000 (X-Ray patches only botocore)."""
    env = {
        "AWS_DEFAULT_REGION": REGION,
        settings.CLUSTER_NAME: CLUSTER,
        settings.SERVICE_NAME: SERVICE,
        settings.CONTAINER_NAME: "app",
    }

    imported = modules_after_cold_start(
        "prepare_rollout", env, {"alembic", "sqlalchemy", "pg8000", "requests"}
    )

    assert imported == []
