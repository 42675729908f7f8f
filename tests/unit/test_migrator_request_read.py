"""The ``read`` action (before the deployment lock) and the serving image the definition passes
(the serving task definition's containers)."""

from __future__ import annotations

from typing import Any

import pytest
from pushgate.errors import InvalidRequest
from pushgate.image import ImageRef
from pushgate.migrator import MigrationRequest
from pushgate.migrator.request import serving_image_of

from tests.helpers import load_event

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "ab" * 32
REGISTRY = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
SERVING = f"{REGISTRY}/shop/api@sha256:{'cd' * 32}"


def test_a_read_names_the_image_and_nothing_else() -> None:
    """GIVEN the sample read event WHEN parsed THEN it is a read of that image."""
    request = MigrationRequest.from_event(load_event("run_migrations_read"))

    assert request.action == "read"
    assert request.image == ImageRef(REGISTRY, "shop/api", DIGEST)


@pytest.mark.parametrize("extra", [{"target": "head"}, {"from_revision": None}])
def test_a_read_with_anything_more_is_refused(extra: dict[str, Any]) -> None:
    """GIVEN a read with a key only a migration takes WHEN parsed THEN InvalidRequest names it."""
    with pytest.raises(InvalidRequest, match=next(iter(extra))):
        MigrationRequest.from_event({"action": "read", **extra})


def test_the_serving_image_is_the_named_containers_image() -> None:
    """GIVEN the serving task definition's names and images WHEN an upgrade is parsed THEN the
    serving image is the one of the pushgate container, pinned by digest."""
    event = {
        "action": "upgrade",
        "serving_containers": {
            "container": "api",
            "names": ["log-router", "api"],
            "images": ["amazon/aws-for-fluent-bit:stable", SERVING],
        },
    }

    assert MigrationRequest.from_event(event).serving_image == ImageRef.parse(SERVING)


@pytest.mark.parametrize(
    ("names", "images"),
    [
        (["api"], [f"{REGISTRY}/shop/api:v1"]),  # by tag: it cannot be read by digest
        (["worker"], [SERVING]),  # the container is not there
        ([], []),
    ],
)
def test_no_serving_image_when_it_cannot_be_read_by_digest(
    names: list[str], images: list[str]
) -> None:
    """GIVEN a serving task definition without the container pinned by digest WHEN parsed THEN
    there is no serving image (an unknown revision is then drift)."""
    value = {"container": "api", "names": names, "images": images}

    assert serving_image_of(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "api",
        {"container": "api", "names": ["api"]},
        {"container": "api", "names": ["api"], "images": []},
        {"container": 1, "names": [], "images": []},
        {"container": "api", "names": [1], "images": [SERVING]},
    ],
)
def test_malformed_serving_containers_are_refused(value: Any) -> None:
    """GIVEN serving_containers of the wrong shape WHEN parsed THEN InvalidRequest."""
    with pytest.raises(InvalidRequest, match="serving_containers"):
        MigrationRequest.from_event({"action": "upgrade", "serving_containers": value})
