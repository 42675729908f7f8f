"""A dead run's compensation reverts with the pushed image's scripts (issue 9)."""

from __future__ import annotations

import pytest
from pushgate.deadrun import DeadRun

pytestmark = pytest.mark.unit

PUSH = {
    "account": "123456789012",
    "region": "eu-west-1",
    "repository": "shop/api",
    "digest": "sha256:" + "b" * 64,
}


def dead(data: dict[str, object]) -> DeadRun:
    return DeadRun(execution_arn="arn", status="FAILED", error=None, cause=None, data=data)


def test_a_run_that_described_its_push_names_the_image_for_the_revert() -> None:
    # GIVEN a dead run whose data holds the described push
    run = dead({"push": PUSH, "start": {"from_revision": "r1"}})
    # WHEN its image is read
    # THEN it is the pushed digest in the account's ECR registry
    assert run.image == {
        "registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "repository": "shop/api",
        "digest": PUSH["digest"],
    }


@pytest.mark.parametrize("missing", ["account", "region", "repository", "digest"])
def test_a_run_without_a_full_push_names_no_image(missing: str) -> None:
    # GIVEN a dead run whose push lacks one field
    push = {key: value for key, value in PUSH.items() if key != missing}
    # WHEN its image is read THEN there is none (the revert runs the function's own source)
    assert dead({"push": push}).image is None
