"""Rendering a task-definition revision that pins a pushed image by digest."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from pushgate.errors import ContainerNotFound, InvalidRequest
from pushgate.rollout import PushedImage, render_task_definition, same_content

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "ab" * 32
OLD_IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repository-name:1.4.0"
SIDECAR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"
# What RegisterTaskDefinition accepts, from the ECS API model botocore ships (no call is made).
REGISTER_FIELDS = frozenset(
    boto3.client("ecs", region_name="us-west-2")
    .meta.service_model.operation_model("RegisterTaskDefinition")
    .input_shape.members
)


def described_task_definition() -> dict[str, Any]:
    """A `taskDefinition` as DescribeTaskDefinition returns it for a Fargate web service."""
    return {
        "taskDefinitionArn": "arn:aws:ecs:us-west-2:123456789012:task-definition/web:7",
        "family": "web",
        "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
        "networkMode": "awsvpc",
        "revision": 7,
        "status": "ACTIVE",
        "requiresAttributes": [
            {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
            {"name": "ecs.capability.execution-role-awslogs"},
        ],
        "compatibilities": ["EC2", "FARGATE"],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "registeredAt": "2024-05-02T10:11:12.345000+00:00",
        "registeredBy": "arn:aws:sts::123456789012:assumed-role/deployer/ci",
        "deregisteredAt": "2024-06-01T00:00:00+00:00",
        "volumes": [{"name": "scratch", "host": {}}],
        "placementConstraints": [],
        "containerDefinitions": [
            {
                "name": "app",
                "image": OLD_IMAGE,
                "cpu": 0,
                "essential": True,
                "portMappings": [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}],
                "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                "secrets": [
                    {
                        "name": "DATABASE_URL",
                        "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:db",
                    }
                ],
                "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-west-2"},
                },
            },
            {
                "name": "otel",
                "image": SIDECAR_IMAGE,
                "essential": False,
                "environment": [],
            },
        ],
    }


def pushed_image() -> PushedImage:
    return PushedImage(
        repository="my-repository-name",
        digest=DIGEST,
        account="123456789012",
        region="us-west-2",
        tag="latest",
    )


def test_the_rendered_revision_is_a_valid_register_request() -> None:
    # GIVEN a described task definition carrying every field ECS sets itself
    current = described_task_definition()
    # WHEN it is rendered for a new image
    rendered = render_task_definition(current, "app", pushed_image().uri)
    # THEN every field is one RegisterTaskDefinition accepts (its API model, as botocore has it):
    # taskDefinitionArn, revision, status, registeredAt and the like are gone
    assert set(rendered) <= REGISTER_FIELDS
    assert set(current) - REGISTER_FIELDS, "the sample carries no read-only field"


def test_only_the_named_containers_image_changes() -> None:
    # GIVEN a task definition with the app container and a sidecar
    current = described_task_definition()
    image = pushed_image().uri
    # WHEN the app container is rendered with the pushed image
    rendered = render_task_definition(current, "app", image)
    # THEN the app container runs the pushed image and is otherwise identical
    app, otel = rendered["containerDefinitions"]
    expected_app = {**current["containerDefinitions"][0], "image": image}
    assert app == expected_app
    # AND the sidecar is untouched
    assert otel == current["containerDefinitions"][1]
    assert otel["image"] == SIDECAR_IMAGE


def test_everything_else_is_kept() -> None:
    # GIVEN a task definition
    current = described_task_definition()
    # WHEN it is rendered
    rendered = render_task_definition(current, "app", pushed_image().uri)
    # THEN every writable top-level field is kept with its value
    writable = {k: v for k, v in current.items() if k in REGISTER_FIELDS}
    assert rendered.keys() == writable.keys()
    for key, value in writable.items():
        if key != "containerDefinitions":
            assert rendered[key] == value, key


def test_the_image_is_pinned_by_digest_in_the_pushing_registry() -> None:
    # GIVEN an image pushed to ECR in us-west-2 of account 123456789012
    image = pushed_image()
    # WHEN the task definition is rendered
    rendered = render_task_definition(described_task_definition(), "app", image.uri)
    # THEN the container pulls repository@digest from that registry, not a mutable tag
    pinned = rendered["containerDefinitions"][0]["image"]
    assert pinned == (f"123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repository-name@{DIGEST}")
    assert ":latest" not in pinned


def test_rendering_does_not_modify_the_described_definition() -> None:
    # GIVEN a described task definition
    current = described_task_definition()
    before = copy.deepcopy(current)
    # WHEN it is rendered
    render_task_definition(current, "app", pushed_image().uri)
    # THEN the input is unchanged (the previous revision stays describable as it was)
    assert current == before


def test_a_missing_container_is_an_error() -> None:
    # GIVEN a task definition without a container named "worker"
    # WHEN it is rendered for "worker" THEN ContainerNotFound is raised
    with pytest.raises(ContainerNotFound):
        render_task_definition(described_task_definition(), "worker", pushed_image().uri)


def test_the_rendered_revision_is_the_same_content_only_when_the_image_matches() -> None:
    # GIVEN the current revision and one rendered for a new digest
    current = described_task_definition()
    rendered = render_task_definition(current, "app", pushed_image().uri)
    # THEN they differ; rendering the current image again gives the same content
    assert not same_content(current, rendered)
    assert same_content(current, render_task_definition(current, "app", OLD_IMAGE))


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "ab" * 31,  # too short
        "sha256:" + "AB" * 32,  # upper case
        "sha512:" + "ab" * 32,  # other algorithm
        "ab" * 32,  # no algorithm
        "sha256:" + "ab" * 32 + "\n",  # trailing newline
    ],
)
def test_a_malformed_digest_is_rejected(digest: str) -> None:
    # GIVEN a digest that is not sha256 followed by 64 lower-case hex digits
    # WHEN an image is built from it THEN InvalidRequest is raised
    with pytest.raises(InvalidRequest):
        PushedImage(
            repository="my-repository-name",
            digest=digest,
            account="123456789012",
            region="us-west-2",
        )


@pytest.mark.parametrize(
    "event",
    [
        {"digest": DIGEST, "account": "123456789012", "region": "us-west-2"},
        {"repository": "Bad Name", "digest": DIGEST, "account": "123456789012", "region": "x"},
        {"repository": "r", "digest": DIGEST, "account": "12", "region": "us-west-2"},
        {
            "repository": "r",
            "digest": DIGEST,
            "account": "123456789012",
            "region": "us-west-2",
            "tag": 3,
        },
        ["not", "an", "object"],
    ],
)
def test_a_malformed_event_is_rejected(event: Any) -> None:
    # GIVEN an event missing a field or with a malformed one
    # WHEN it is parsed THEN InvalidRequest is raised
    with pytest.raises(InvalidRequest):
        PushedImage.from_event(event)
