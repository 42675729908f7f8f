"""run_migrations' ``review`` action as "Review the schema change" sends it: parsed, or refused
with InvalidRequest before anything is read."""

from __future__ import annotations

from typing import Any

import pytest
from pushgate.errors import InvalidRequest
from pushgate.image import ImageRef
from pushgate.review.request import ReviewRequest

from tests.helpers import load_event

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "ab" * 32
REGISTRY = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"


def test_a_review_names_the_databases_revision_its_version_and_the_image() -> None:
    """GIVEN the sample review event WHEN parsed THEN it reviews from the database's revision
    to head of that image's scripts, for that server version."""
    request = ReviewRequest.from_event(load_event("run_migrations_review"))

    assert (request.from_revision, request.server_version) == ("3f1c9a2b7d10", "16.4")
    assert request.scripts.image == ImageRef(REGISTRY, "shop/api", DIGEST)
    assert (request.scripts.action, request.scripts.target) == ("upgrade", "head")


def test_a_review_from_base_of_the_bundled_scripts_needs_no_image() -> None:
    request = ReviewRequest.from_event(
        {"action": "review", "from_revision": None, "server_version": None}
    )

    assert (request.from_revision, request.server_version, request.scripts.image) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "event",
    [
        {"action": "review"},  # no from_revision: a review from base by accident
        {"from_revision": None},  # not a review
        {"action": "upgrade", "from_revision": None},
        {"action": "review", "from_revision": None, "target": "head"},
        {"action": "review", "from_revision": "", "server_version": None},
        {"action": "review", "from_revision": None, "server_version": 16},
        {"action": "review", "from_revision": None, "image": {"registry": "r"}},
        ["action", "review"],
    ],
)
def test_a_malformed_review_is_refused(event: Any) -> None:
    with pytest.raises(InvalidRequest):
        ReviewRequest.from_event(event)
