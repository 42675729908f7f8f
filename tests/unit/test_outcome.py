"""describe_outcome: the one Deployment event of a run, as an operator reads it.

The events are the public contract of docs/design.md (Events): each test pins a detail-type and
the fields its detail carries, from what the definition passes "Describe the outcome".
"""

from __future__ import annotations

import copy
import json
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from pushgate.errors import InvalidRequest
from pushgate.outcome import describe_outcome
from pushgate_cli.handlers import load_handler

from tests.helpers import load_event

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.unit

REPORT_FIELDS = {
    "environment",
    "repository",
    "tag",
    "digest",
    "from_revision",
    "to_revision",
    "applied",
    "schema_ahead",
    "previous_task_definition",
    "task_definition",
    "execution_arn",
    "console_url",
}
DIGEST = "sha256:" + "7f" * 32


def run(**written: Any) -> dict[str, Any]:
    """The sample "Describe the outcome" payload of a healthy run, with `written` replaced."""
    event: dict[str, Any] = copy.deepcopy(load_event("describe_outcome"))
    event.update(written)
    return event


def lambda_error(error: str, message: str) -> dict[str, str]:
    """How a Catch keeps a pushgate Lambda's error: Cause is the runtime's JSON reply."""
    reply = {
        "errorMessage": message,
        "errorType": error,
        "requestId": "8f5b4c1e-0000-4000-8000-000000000000",
        "stackTrace": ['  File "/var/task/app.py", line 40, in lambda_handler\n'],
    }
    return {"Error": error, "Cause": json.dumps(reply)}


def test_a_healthy_run_is_announced_as_succeeded_with_what_every_event_carries() -> None:
    # GIVEN a run that wrote no error, rejection or rollback
    event = run()
    # WHEN its outcome is described
    announcement = describe_outcome(event)
    # THEN it is "Deployment Succeeded", with the report fields only, taken from the run
    assert announcement["detail_type"] == "Deployment Succeeded"
    detail = announcement["detail"]
    assert set(detail) == REPORT_FIELDS
    assert detail["environment"] == event["settings"]["environment"]
    assert detail["console_url"] == event["settings"]["console_url"]
    assert detail["execution_arn"] == event["execution_id"]
    assert (detail["repository"], detail["tag"], detail["digest"]) == (
        event["push"]["repository"],
        event["push"]["tag"],
        event["push"]["digest"],
    )
    assert detail["applied"] == event["migration"]["applied"]
    assert detail["task_definition"] == event["rollout"]["task_definition"]


def test_a_pushgate_errors_cause_becomes_its_message() -> None:
    # GIVEN a run whose migration failed (the Catch kept Lambda's whole error reply)
    message = "revision c47a91e2b5d8 failed: relation users does not exist"
    event = run(error=lambda_error("MigrationFailed", message))
    # WHEN its outcome is described
    announcement = describe_outcome(event)
    # THEN it is "Deployment Failed", its cause the message in words, no JSON, no stack trace
    assert announcement["detail_type"] == "Deployment Failed"
    assert announcement["detail"]["error"] == "MigrationFailed"
    assert announcement["detail"]["cause"] == message
    assert set(announcement["detail"]) == REPORT_FIELDS | {"error", "cause"}


@pytest.mark.parametrize(
    "caught",
    [
        {"Error": "Lambda.Unknown", "Cause": "The cause could not be determined."},
        {"Error": "Ecs.ServiceNotFoundException", "Cause": "Service not found. (Service: Ecs)"},
        {"Error": "States.Timeout", "Cause": '{"errorType": "Other", "errorMessage": "no"}'},
        {"Error": "States.TaskFailed", "Cause": '["not", "a", "reply"]'},
    ],
    ids=["plain-text", "aws-sdk", "reply-of-another-error", "json-not-a-reply"],
)
def test_any_other_cause_is_passed_on_as_given(caught: dict[str, str]) -> None:
    # GIVEN a failure whose Cause is not a Lambda reply of that same error
    announcement = describe_outcome(run(error=caught))
    # THEN the alert carries it unchanged
    assert announcement["detail"]["error"] == caught["Error"]
    assert announcement["detail"]["cause"] == caught["Cause"]


def test_a_rollback_says_why_and_whether_the_previous_version_came_back() -> None:
    # GIVEN a run that noted the missed deadline and rolled back
    error = {"Error": "HealthDeadlineExceeded", "Cause": "td:7 was not healthy after 600 seconds"}
    event = run(error=error, rollback={"scalable_targets": [], "resume_state": []})
    # WHEN its outcome is described
    announcement = describe_outcome(event)
    # THEN "Deployment Rolled Back", with the reason and the restore setting
    assert announcement["detail_type"] == "Deployment Rolled Back"
    assert announcement["detail"]["error"] == "HealthDeadlineExceeded"
    assert announcement["detail"]["cause"] == error["Cause"]
    assert announcement["detail"]["restore_previous_version"] is True


def test_a_failed_rollback_names_its_own_error_and_the_original_one() -> None:
    # GIVEN a rollback whose downgrade was refused after a failed rollout
    rollout_failed = {"Error": "RolloutFailed", "Cause": "ECS marked the deployment FAILED"}
    refused = lambda_error("SchemaDrift", "the database is at d1, not at c47a91e2b5d8")
    event = run(error=rollout_failed, rollback={"scaled": {}}, rollback_error=refused)
    # WHEN its outcome is described
    announcement = describe_outcome(event)
    # THEN "Rollback Failed": the downgrade's message, and what started the rollback
    assert announcement["detail_type"] == "Rollback Failed"
    detail = announcement["detail"]
    assert (detail["error"], detail["cause"]) == (
        "SchemaDrift",
        "the database is at d1, not at c47a91e2b5d8",
    )
    assert (detail["original_error"], detail["original_cause"]) == (
        "RolloutFailed",
        rollout_failed["Cause"],
    )


def test_an_input_describe_push_refused_is_rejected_with_its_reason_and_the_input() -> None:
    # GIVEN a DELETE event describe_push refused
    delete = load_event("ecr_delete")
    reason = "action-type DELETE is not a PUSH"
    event = run(input=delete, rejection=lambda_error("InvalidPush", reason))
    # WHEN its outcome is described
    announcement = describe_outcome(event)
    # THEN "Deployment Rejected", error DeploymentRejected, the reason and the input itself
    assert announcement["detail_type"] == "Deployment Rejected"
    detail = announcement["detail"]
    assert (detail["error"], detail["cause"], detail["input"]) == (
        "DeploymentRejected",
        reason,
        delete,
    )


IMAGE = '{"ImageDigest":"' + DIGEST + '"}'


@pytest.mark.parametrize(
    ("rejection", "cause"),
    [
        (
            {"Error": "Ecr.InvalidParameterException", "Cause": "Invalid parameter at imageId"},
            f"ECR refused the image id {IMAGE} of repository shop/api as malformed: "
            "Ecr.InvalidParameterException: Invalid parameter at imageId",
        ),
        (
            {"Error": "Ecr.ImageNotFoundException", "Cause": "The image does not exist"},
            f"the image {IMAGE} is not in repository shop/api: "
            "Ecr.ImageNotFoundException: The image does not exist",
        ),
        ({"Error": "ImageNotInRepository"}, f"the image {IMAGE} is not in repository shop/api"),
    ],
    ids=["malformed", "not-found", "no-image-returned"],
)
def test_an_image_ecr_does_not_have_is_rejected_naming_it_and_what_ecr_said(
    rejection: dict[str, str], cause: str
) -> None:
    # GIVEN the image look-up of a push failed, or returned no image
    announcement = describe_outcome(run(rejection=rejection))
    # THEN the rejection names the image id, the repository and ECR's error and message
    assert announcement["detail_type"] == "Deployment Rejected"
    assert announcement["detail"]["cause"] == cause


def test_an_older_image_over_the_newer_schema_says_it_deployed_without_touching_it() -> None:
    # GIVEN a run whose migration found the schema ahead of the image (the serving image's)
    migration = {"from_revision": "c3", "to_revision": "c3", "applied": [], "schema_ahead": True}
    # WHEN its outcome is described
    announcement = describe_outcome(run(migration=migration))
    # THEN it succeeded, says schema_ahead and that the schema was not touched
    assert announcement["detail_type"] == "Deployment Succeeded"
    assert announcement["detail"]["schema_ahead"] is True
    assert announcement["detail"]["note"] == "schema ahead: deployed without touching the schema"
    # AND a run that migrated says schema_ahead false, without the note
    plain = describe_outcome(run())["detail"]
    assert plain["schema_ahead"] is False
    assert "note" not in plain


def test_scripts_refused_before_the_lock_are_a_rejection_with_the_reason() -> None:
    # GIVEN the read of the image's scripts refused them
    reason = "blob 127.0.0.1:5000/shop/api@sha256:00 has digest sha256:11, not sha256:00"
    announcement = describe_outcome(run(rejection=lambda_error("InvalidImage", reason)))
    # THEN the push is rejected, with the read's reason
    assert announcement["detail_type"] == "Deployment Rejected"
    assert announcement["detail"]["cause"] == (
        f"the image's migration scripts were refused before the lock: {reason}"
    )


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {k: v for k, v in load_event("describe_outcome").items() if k != "migration"},
        {k: v for k, v in load_event("describe_outcome").items() if k != "error"},
        {**load_event("describe_outcome"), "push": "shop/api"},
        {**load_event("describe_outcome"), "execution_id": None},
    ],
    ids=["null", "list", "no-migration", "no-error-key", "push-not-an-object", "no-execution"],
)
def test_a_malformed_call_is_refused(event: Any) -> None:
    with pytest.raises(InvalidRequest):
        describe_outcome(event)


@pytest.fixture
def handler() -> ModuleType:
    return load_handler("describe_outcome", fresh=True)


def test_the_handler_returns_the_announcement_and_raises_on_a_malformed_call(
    handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN the function WHEN it is called with the sample payload, then with nothing
    announcement = handler.lambda_handler(run(), lambda_context)
    # THEN it answers the announcement, and refuses the malformed call with InvalidRequest
    assert announcement == describe_outcome(run())
    with pytest.raises(InvalidRequest):
        handler.lambda_handler({}, lambda_context)
