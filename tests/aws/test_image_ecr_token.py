"""ECR's registry credentials: GetAuthorizationToken's token as Basic auth, kept while valid."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pushgate.errors import InvalidRequest
from pushgate.image.ecr import TOKEN_MARGIN_SECONDS, ecr_authorization, is_ecr

pytestmark = pytest.mark.aws


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


def test_ecr_registries_authenticate_with_the_token_while_it_is_valid(
    aws: None,
) -> None:
    """GIVEN an ECR registry WHEN its Authorization is asked for twice while the token is valid
    THEN ECR's token as Basic credentials, GetAuthorizationToken called once (warm invocations
    reuse it); once the token has expired THEN it is asked for again."""
    registry = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
    regions: list[str] = []

    def client(region: str) -> Any:
        regions.append(region)
        return boto3.client("ecr", region_name=region)

    data = boto3.client("ecr", region_name="eu-west-1").get_authorization_token()
    token = data["authorizationData"][0]
    expires = token["expiresAt"].timestamp()  # moto's token expires on 2015-01-01
    now = [expires - TOKEN_MARGIN_SECONDS - 3600]

    first = ecr_authorization(registry, client, lambda: now[0])()
    second = ecr_authorization(registry, client, lambda: now[0])()
    assert first == second == f"Basic {token['authorizationToken']}"
    assert regions == ["eu-west-1"]

    now[0] = expires
    assert ecr_authorization(registry, client, lambda: now[0])() == first
    assert regions == ["eu-west-1", "eu-west-1"]
    assert is_ecr(registry)
    assert not is_ecr("ghcr.io")


def test_a_registry_that_is_not_ecr_gets_no_ecr_token() -> None:
    with pytest.raises(InvalidRequest, match="not an ECR registry"):
        ecr_authorization("ghcr.io")
