"""How a run ended, in words: the one Deployment event a run puts on the bus.

"Describe the outcome" calls this through `functions/describe_outcome` with what the run wrote
(the push, the migration, the rollout, why it was rejected, failed or rolled back, and why the
rollback failed). The definition's Catch blocks keep errors as Step Functions gives them,
``{Error, Cause}``; a pushgate Lambda's error arrives with the Lambda runtime's JSON reply
``{errorMessage, errorType, stackTrace, ...}`` as its Cause, which becomes its ``errorMessage``
here, readable in an e-mail. Every other Cause is passed on as given.

The event contract (docs/design.md, Events) is `Announcement`: a detail-type and a detail of the
fields every event carries (`report`) and the outcome's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

from pushgate.errors import InvalidRequest
from pushgate.outcome_steps import (
    database_lock_error_field,
    ledger_error_field,
    not_promoted_reason,
    promoted_field,
    snapshot_field,
)
from pushgate.push_rules import MAX_INPUT_BYTES

SUCCEEDED: Final = "Deployment Succeeded"
FAILED: Final = "Deployment Failed"
REJECTED: Final = "Deployment Rejected"
ROLLED_BACK: Final = "Deployment Rolled Back"
ROLLBACK_FAILED: Final = "Rollback Failed"
REJECTED_ERROR: Final = "DeploymentRejected"  # the error of every rejection's event
INVALID_PUSH: Final = "InvalidPush"  # describe_push's refusal: its message is the reason
SCHEMA_CHANGE_REJECTED: Final = "SchemaChangeRejected"  # review_schema's refusal (enforce)
REJECTIONS_WITH_REASON: Final = frozenset({INVALID_PUSH, SCHEMA_CHANGE_REJECTED})
MAX_REVIEW_FINDINGS: Final = 5  # findings an event carries of the schema review
MAX_REVIEW_TEXT: Final = 200  # characters of each of a finding's texts in an event
MALFORMED_IMAGE_ID: Final = "Ecr.InvalidParameterException"
NOT_PROMOTED: Final = "NotPromoted"  # "Note the missing promotion": the ledger has no record
INVALID_IMAGE: Final = "InvalidImage"  # run_migrations refused the image's scripts (its read)
SCHEMA_AHEAD_NOTE: Final = "schema ahead: deployed without touching the schema"


class Announcement(TypedDict):
    """What "Send the announcement" puts: the event's detail-type and its detail."""

    detail_type: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class StepError:
    """An error as a Catch keeps it: its ASL name and its cause (a pushgate Lambda's message
    once read out of the runtime's reply)."""

    error: Any
    cause: Any

    @classmethod
    def of(cls, caught: Mapping[str, Any]) -> StepError:
        error, cause = caught.get("Error"), caught.get("Cause")
        return cls(error, lambda_message(error, cause) if isinstance(cause, str) else cause)


def lambda_message(error: Any, cause: str) -> str:
    """The ``errorMessage`` of a Lambda error reply whose ``errorType`` is `error`, else `cause`."""
    try:
        reply = json.loads(cause)
    except ValueError:
        return cause
    if (
        isinstance(reply, dict)
        and reply.get("errorType") == error
        and isinstance(reply.get("errorMessage"), str)
    ):
        return str(reply["errorMessage"])
    return cause


def _mapping(event: Mapping[str, Any], key: str, *, optional: bool = False) -> Mapping[str, Any]:
    value = event.get(key)
    if value is None and optional and key in event:
        return {}
    if not isinstance(value, Mapping):
        kind = "a JSON object or null" if optional else "a JSON object"
        raise InvalidRequest(f"{key!r} is required and must be {kind}")
    return value


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """What a run wrote, as "Describe the outcome" passes it (a parsed ``describe_outcome``
    event). Each of `error`, `rejection`, `rollback`, `rollback_error` is empty until written."""

    execution_id: str
    execution_input: Any
    settings: Mapping[str, Any]
    push: Mapping[str, Any]
    migration: Mapping[str, Any]
    rollout: Mapping[str, Any]
    start: Mapping[str, Any]  # {"from_revision"}: fixed before the first migration attempt
    revert: Mapping[str, Any]  # run_migrations' revert, once it ran
    review: Mapping[str, Any]  # "Review the schema change"'s summary, once it ran
    error: Mapping[str, Any]
    rejection: Mapping[str, Any]
    rollback: Mapping[str, Any]
    rollback_error: Mapping[str, Any]
    # the lower environment's ledger record ({"Item": ...}) once the promotion check read it
    promotion: Mapping[str, Any] = field(default_factory=dict)
    ledger_error: Mapping[str, Any] = field(default_factory=dict)  # the ledger write's failure
    # the database lock's release that failed (its row stays until the takeover rule frees it)
    database_lock_error: Mapping[str, Any] = field(default_factory=dict)
    # the snapshot taken before the migration: {kind, id, source} once asked for, then
    # {kind, id, arn, status, created_at} once available
    snapshot: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: Any) -> RunRecord:
        """Raises InvalidRequest when a field is missing or of the wrong kind."""
        if not isinstance(event, Mapping):
            raise InvalidRequest("the event must be a JSON object")
        execution_id = event.get("execution_id")
        if not isinstance(execution_id, str) or "input" not in event:
            raise InvalidRequest("'execution_id' (a string) and 'input' are required")
        return cls(
            execution_id=execution_id,
            execution_input=event["input"],
            **{key: _mapping(event, key) for key in ("settings", "push", "migration", "rollout")},
            **{
                key: _mapping(event, key, optional=True) if key in event else {}
                for key in (
                    *("start", "revert", "review", "promotion", "ledger_error", "snapshot"),
                    "database_lock_error",
                )
            },
            **{
                key: _mapping(event, key, optional=True)
                for key in ("error", "rejection", "rollback", "rollback_error")
            },
        )


def report(run: RunRecord) -> dict[str, Any]:
    """The fields every Deployment event carries, and those of the steps that ran."""
    return {
        **_steps(run),
        "environment": run.settings.get("environment"),
        "repository": run.push.get("repository"),
        "tag": run.push.get("tag"),
        "digest": run.push.get("digest"),
        "from_revision": from_revision(run),
        "to_revision": to_revision(run),
        "applied": run.migration.get("applied"),
        "schema_ahead": run.migration.get("schema_ahead") is True,
        "previous_task_definition": run.rollout.get("previous_task_definition"),
        "task_definition": run.rollout.get("task_definition"),
        "execution_arn": run.execution_id,
        "console_url": run.settings.get("console_url"),
    }


def _steps(run: RunRecord) -> dict[str, Any]:
    """What only some runs did (`pushgate.outcome_steps`): the snapshot taken before the
    migration, the promotion check that let the digest through, the ledger write that failed."""
    steps: dict[str, Any] = {}
    if run.snapshot:
        steps["snapshot"] = snapshot_field(run.snapshot)
    promoted = promoted_field(run.promotion)
    if promoted:
        steps["promoted"] = promoted
    if run.ledger_error:
        failed = StepError.of(run.ledger_error)
        environment = run.settings.get("environment")
        steps["ledger_error"] = ledger_error_field(failed.error, failed.cause, environment)
    if run.database_lock_error:
        failed = StepError.of(run.database_lock_error)
        steps["database_lock_error"] = database_lock_error_field(failed.error, failed.cause)
    return steps


def from_revision(run: RunRecord) -> Any:
    """The run's starting revision, as noted before the first migration attempt."""
    if "from_revision" in run.start:
        return run.start["from_revision"]
    return run.migration.get("from_revision")


def to_revision(run: RunRecord) -> Any:
    """Where the run took the schema: the migration's end, or, when the migration reported
    nothing (it failed), where the revert found the database; else the start."""
    if run.migration.get("to_revision") is not None:
        return run.migration["to_revision"]
    if "from_revision" in run.revert:
        return run.revert["from_revision"]
    return from_revision(run)


def rejection_reason(run: RunRecord) -> str:
    """Why the input is not deployed: describe_push's reason, or what ECR said of the image."""
    caught = StepError.of(run.rejection)
    if caught.error in REJECTIONS_WITH_REASON and isinstance(caught.cause, str):
        return caught.cause
    if caught.error == NOT_PROMOTED:
        settings = run.settings
        return not_promoted_reason(
            settings.get("environment"), settings.get("promotion_from"), run.push.get("digest")
        )
    if caught.error == INVALID_IMAGE and isinstance(caught.cause, str):
        return f"the image's migration scripts were refused before the lock: {caught.cause}"
    image = json.dumps(run.push.get("image_id"), separators=(",", ":"))
    repository = run.settings.get("repository")
    said = isinstance(caught.error, str) and isinstance(caught.cause, str)
    if said and caught.error == MALFORMED_IMAGE_ID:
        return (
            f"ECR refused the image id {image} of repository {repository} as malformed: "
            f"{caught.error}: {caught.cause}"
        )
    if said:
        return (
            f"the image {image} is not in repository {repository}: {caught.error}: {caught.cause}"
        )
    return f"the image {image} is not in repository {repository}"


def _bounded(execution_input: Any) -> Any:
    """The input as a rejection's event carries it: as given when it is no bigger than a push
    can be, else a note of its size (a hostile input must not fill the state or the event)."""
    size = len(json.dumps(execution_input, separators=(",", ":"), ensure_ascii=False).encode())
    if size <= MAX_INPUT_BYTES:
        return execution_input
    return {
        "omitted": f"the input is {size} bytes of JSON, more than the {MAX_INPUT_BYTES} an "
        "event carries; the execution's history holds it"
    }


def own_fields(run: RunRecord) -> tuple[str, dict[str, Any]]:
    """The outcome's detail-type and the fields only its event has."""
    error = StepError.of(run.error)
    why = {"error": error.error, "cause": error.cause}
    if run.rejection:
        return REJECTED, {
            "error": REJECTED_ERROR,
            "input": _bounded(run.execution_input),
            "cause": rejection_reason(run),
        }
    if run.rollback_error:
        failed = StepError.of(run.rollback_error)
        return ROLLBACK_FAILED, {
            "error": failed.error,
            "cause": failed.cause,
            "original_error": error.error,
            "original_cause": error.cause,
        }
    if run.rollback:
        restore = run.settings.get("restore_previous_version")
        return ROLLED_BACK, {**why, "restore_previous_version": restore}
    if run.error:
        return FAILED, why
    if run.migration.get("schema_ahead") is True:  # an older image over the newer schema
        return SUCCEEDED, {"note": SCHEMA_AHEAD_NOTE}
    return SUCCEEDED, {}


def _text(value: Any) -> Any:
    return value[:MAX_REVIEW_TEXT] if isinstance(value, str) else value


def review_field(review: Mapping[str, Any]) -> dict[str, Any]:
    """The schema review as an event carries it: the verdict, counts per verdict, what was
    accepted and the first findings, each text cut (bounded whatever the state held)."""
    findings = review.get("findings")
    return {
        **{key: review.get(key) for key in ("policy", "verdict", "destructive", "accepted")},
        "counts": review.get("counts"),
        "findings": [
            {key: _text(value) for key, value in finding.items()}
            for finding in (findings if isinstance(findings, list) else [])[:MAX_REVIEW_FINDINGS]
            if isinstance(finding, Mapping)
        ],
    }


def describe_outcome(event: Any) -> Announcement:
    """The announcement of the run `event` describes; raises InvalidRequest. A run that was
    reviewed (``review``) carries the review's summary too."""
    run = RunRecord.from_event(event)
    detail_type, fields = own_fields(run)
    detail = {**report(run), **fields}
    if run.review:
        detail["review"] = review_field(run.review)
    return Announcement(detail_type=detail_type, detail=detail)
