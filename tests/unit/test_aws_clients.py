"""The handlers' clients: one botocore session, a client made only when a handler needs it."""

from __future__ import annotations

import pytest
from botocore.session import Session
from pushgate.aws import RETRIES, Clients, OnFirstUse

pytestmark = pytest.mark.unit


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return Session()


def test_a_client_made_now_is_botocores_with_the_retries_of_the_deploy(session: Session) -> None:
    # GIVEN the clients of one session / WHEN one is made now
    ecs = Clients(session).now("ecs")
    # THEN it is that service's client, in the function's region, retrying in standard mode
    assert ecs.meta.service_model.service_name == "ecs"
    assert ecs.meta.region_name == "eu-west-1"
    assert ecs.meta.config.retries == RETRIES.retries


def test_a_client_on_first_use_is_made_when_first_called_and_only_once(session: Session) -> None:
    # GIVEN a Step Functions client on first use (take_lock's: only a held lock asks)
    clients = Clients(session)
    sfn = clients.on_first_use("stepfunctions")
    assert isinstance(sfn, OnFirstUse)
    # WHEN nothing calls it / THEN no client exists
    assert sfn.made() is False
    # WHEN the handler calls it / THEN it is made, once, from the same session's settings
    first = sfn.meta
    assert sfn.made() is True
    assert first.service_model.service_name == "stepfunctions"
    assert sfn.meta is first
    assert first.region_name == "eu-west-1"


def test_a_client_in_another_region_is_made_there(session: Session) -> None:
    # GIVEN the clients of a function in eu-west-1 / WHEN an ECR client of another registry's
    # region is asked for (an image pulled from us-east-2) / THEN it is that region's
    ecr = Clients(session).now("ecr", region="us-east-2")
    assert ecr.meta.region_name == "us-east-2"
    assert ecr.meta.config.retries == RETRIES.retries
