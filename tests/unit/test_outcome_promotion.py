"""describe_outcome: promotion, the deploy ledger and the snapshot in the events (issue 12)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pushgate.outcome import describe_outcome

from tests.helpers import load_event

pytestmark = pytest.mark.unit

BETA_RUN = "arn:aws:states:eu-west-1:111122223333:execution:pushgate-shop-beta-deploy:run-7"


def run(**written: Any) -> dict[str, Any]:
    """The sample payload of a healthy prod run that requires promotion from beta."""
    event: dict[str, Any] = copy.deepcopy(load_event("describe_outcome"))
    event["settings"].update(environment="prod", promotion_from="beta")
    event.update(written)
    return event


def ledger_item(**attributes: str) -> dict[str, Any]:
    return {"Item": {key: {"S": value} for key, value in attributes.items()}}


def test_a_digest_the_lower_environment_never_deployed_is_rejected_naming_both() -> None:
    # GIVEN a run whose promotion check found no ledger record
    event = run(promotion={}, rejection={"Error": "NotPromoted"})
    # WHEN its outcome is described
    announcement = describe_outcome(event)
    # THEN it is a rejection naming this environment, the lower one and the digest
    assert announcement["detail_type"] == "Deployment Rejected"
    cause = announcement["detail"]["cause"]
    assert cause.startswith("prod deploys only what beta deployed first")
    assert event["push"]["digest"] in cause
    assert "promoted" not in announcement["detail"]


def test_a_promoted_deploy_names_the_lower_environments_deploy_that_let_it_through() -> None:
    # GIVEN a run whose promotion check found beta's record
    record = ledger_item(
        environment="beta",
        digest="sha256:" + "7f" * 32,
        revision="c47a91e2b5d8",
        deployed_at="2025-06-01T11:00:00Z",
        execution=BETA_RUN,
    )
    # WHEN its outcome is described
    detail = describe_outcome(run(promotion=record))["detail"]
    # THEN the event carries that record
    assert detail["promoted"] == {
        "environment": "beta",
        "revision": "c47a91e2b5d8",
        "deployed_at": "2025-06-01T11:00:00Z",
        "execution": BETA_RUN,
    }


def test_a_failed_ledger_write_is_reported_on_the_success_with_its_consequence() -> None:
    # GIVEN a healthy run whose ledger write failed
    failed = {"Error": "DynamoDB.AccessDeniedException", "Cause": "not authorized"}
    # WHEN its outcome is described
    announcement = describe_outcome(run(ledger_error=failed))
    # THEN it is still a success, and says the next environment will reject the digest
    assert announcement["detail_type"] == "Deployment Succeeded"
    noted = announcement["detail"]["ledger_error"]
    assert (noted["error"], noted["cause"]) == ("DynamoDB.AccessDeniedException", "not authorized")
    assert "prod" in noted["consequence"]
    assert "rejects this digest" in noted["consequence"]


def test_every_event_after_the_snapshot_names_it_for_a_restore() -> None:
    # GIVEN a run that took a snapshot, then failed its migration
    snapshot = {
        "kind": "instance",
        "id": "pushgate-web-7f7f7f7f7f7f-20261201-090000",
        "arn": "arn:aws:rds:us-east-1:123456789012:snapshot:pushgate-web-7f7f",
        "status": "available",
        "created_at": "2026-12-01T09:00:07+00:00",
    }
    failed = {"Error": "MigrationFailed", "Cause": "revision c47a91e2b5d8 failed"}
    # WHEN its outcome is described
    announcement = describe_outcome(run(snapshot=snapshot, error=failed))
    # THEN the Deployment Failed event carries the snapshot
    assert announcement["detail_type"] == "Deployment Failed"
    assert announcement["detail"]["snapshot"] == snapshot
    # AND a run that took none carries no snapshot field
    assert "snapshot" not in describe_outcome(run(snapshot=None))["detail"]
