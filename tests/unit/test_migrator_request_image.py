"""run_migrations' event names the image whose scripts run; MIGRATIONS_SOURCE says whether."""

from __future__ import annotations

from typing import Any

import pytest
from pushgate import settings
from pushgate.errors import InvalidRequest
from pushgate.image import ImageRef, Platform
from pushgate.migrator import MigrationRequest
from pushgate.migrator.request import migrations_source

from tests.helpers import load_event

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "ab" * 32
IMAGE = {"registry": "111122223333.dkr.ecr.eu-west-1.amazonaws.com", "repository": "shop/api"}


def test_the_image_and_its_platform_are_parsed() -> None:
    """GIVEN an event with image {registry, repository, digest, platform} WHEN parsed THEN the
    request names that image, pinned by digest, and the platform."""
    request = MigrationRequest.from_event(load_event("run_migrations_image"))

    assert request.image == ImageRef(IMAGE["registry"], IMAGE["repository"], DIGEST)
    assert request.platform == Platform("linux", "arm64")


def test_no_image_or_a_null_image_means_none() -> None:
    """GIVEN no image, or image null WHEN parsed THEN the request names no image."""
    assert MigrationRequest.from_event({"action": "plan"}).image is None
    assert MigrationRequest.from_event({"action": "plan", "image": None}).image is None


@pytest.mark.parametrize(
    "image",
    [
        "shop/api@" + DIGEST,  # a string, not the object
        {**IMAGE},  # no digest
        {**IMAGE, "digest": "latest"},  # a tag is not a digest
        {**IMAGE, "digest": DIGEST, "platform": 64},
        {**IMAGE, "digest": DIGEST, "platform": "arm64"},
    ],
)
def test_a_malformed_image_is_invalid_request(image: Any) -> None:
    """GIVEN an image that is not {registry, repository, digest[, platform os/arch]} WHEN parsed
    THEN InvalidRequest."""
    with pytest.raises(InvalidRequest):
        MigrationRequest.from_event({"action": "upgrade", "image": image})


@pytest.mark.parametrize("value", ["image", "bundled", " image "])
def test_the_migrations_source_is_read(value: str) -> None:
    """GIVEN MIGRATIONS_SOURCE image or bundled THEN that source."""
    assert migrations_source({settings.MIGRATIONS_SOURCE: value}) == value.strip()


@pytest.mark.parametrize("environ", [{}, {settings.MIGRATIONS_SOURCE: "s3"}])
def test_no_or_an_unknown_migrations_source_is_invalid_request(environ: dict[str, str]) -> None:
    """GIVEN MIGRATIONS_SOURCE missing or unknown THEN InvalidRequest (no silent default)."""
    with pytest.raises(InvalidRequest):
        migrations_source(environ)
