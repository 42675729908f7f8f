"""What a deploy's announcement means for the serving record and the dashboard.

The state machine announces every outcome on EventBridge ("Deployment Succeeded", ...). A rule
delivers those of this stack to the ``observe_outcome`` Lambda, which keeps two things the
definition cannot compute (it has no clock arithmetic and no counter that survives a run):

- the serving record (the lock table's ``<cluster>/<service>#serving`` item, written by the
  run that succeeded) gains ``revision`` (the schema revision that run reached) and
  ``consecutive_failures`` (failed, rolled-back and rollback-failed runs since the last
  success; a success resets it, a rejected push leaves it alone: nothing was deployed);
- push-to-healthy: the announcement's time minus the push's ``pushed_at`` in the serving
  record, read only when the record is this run's own (its ``execution``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pushgate import settings
from pushgate.errors import InvalidRequest

# detail-type of a pushgate event -> the outcome it announces (docs/state-machine.md)
OUTCOMES: Final[Mapping[str, str]] = {
    "Deployment Succeeded": "succeeded",
    "Deployment Rolled Back": "rolled_back",
    "Deployment Failed": "failed",
    "Rollback Failed": "rollback_failed",
    "Deployment Rejected": "rejected",
}
FAILURES: Final = frozenset({"rolled_back", "failed", "rollback_failed"})
# outcome -> the count metric it adds one to
OUTCOME_METRICS: Final[Mapping[str, str]] = {
    "succeeded": "DeploymentsSucceeded",
    "rolled_back": "DeploymentsRolledBack",
    "failed": "DeploymentsFailed",
    "rollback_failed": "RollbackFailures",
    "rejected": "DeploymentsRejected",
}
CONSECUTIVE_FAILURES: Final = "ConsecutiveFailures"
PUSH_TO_HEALTHY: Final = "PushToHealthySeconds"


@dataclass(frozen=True)
class Outcome:
    """One announcement, as EventBridge delivers it."""

    outcome: str
    environment: str
    execution_arn: str
    announced_at: datetime
    to_revision: str | None

    @classmethod
    def from_event(cls, event: Any) -> Outcome:
        if not isinstance(event, Mapping):
            raise InvalidRequest("the event is not a JSON object")
        if event.get("source") != "pushgate":
            raise InvalidRequest(f"source {event.get('source')!r} is not pushgate")
        outcome = OUTCOMES.get(str(event.get("detail-type")))
        if outcome is None:
            raise InvalidRequest(
                f"detail-type {event.get('detail-type')!r} is not one of {', '.join(OUTCOMES)}"
            )
        detail = event.get("detail")
        if not isinstance(detail, Mapping):
            raise InvalidRequest("the event has no detail object")
        environment, arn = detail.get("environment"), detail.get("execution_arn")
        if not isinstance(environment, str) or not environment:
            raise InvalidRequest("detail.environment is missing")
        if not isinstance(arn, str) or ":execution:" not in arn:
            raise InvalidRequest("detail.execution_arn is not an execution ARN")
        revision = detail.get("to_revision")
        return cls(
            outcome=outcome,
            environment=environment,
            execution_arn=arn,
            announced_at=_time(event.get("time"), "time"),
            to_revision=revision if isinstance(revision, str) and revision else None,
        )


@dataclass(frozen=True)
class Noted:
    """What the serving record says after the outcome was noted."""

    consecutive_failures: int | None  # None: a rejection, which does not count
    push_to_healthy_seconds: float | None  # only for a success whose record is its own


class ServingRecord:
    """The serving item of the lock table, updated in place (never replaced)."""

    def __init__(self, dynamodb: Any, table: str, record_id: str) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._key = {"lock_id": {"S": record_id}}

    @classmethod
    def from_environment(cls, dynamodb: Any, environ: Mapping[str, str]) -> ServingRecord:
        """Read LOCK_TABLE_NAME and SERVING_RECORD_ID; both required, none defaulted."""
        names = (settings.LOCK_TABLE_NAME, settings.SERVING_RECORD_ID)
        missing = [name for name in names if not environ.get(name, "").strip()]
        if missing:
            raise InvalidRequest(f"required setting(s) not set: {', '.join(missing)}")
        return cls(
            dynamodb,
            environ[settings.LOCK_TABLE_NAME].strip(),
            environ[settings.SERVING_RECORD_ID].strip(),
        )

    def note(self, outcome: Outcome) -> Noted:
        if outcome.outcome == "succeeded":
            return self._succeeded(outcome)
        if outcome.outcome in FAILURES:
            updated = self._dynamodb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="ADD consecutive_failures :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
            return Noted(int(updated["Attributes"]["consecutive_failures"]["N"]), None)
        return Noted(None, None)

    def _succeeded(self, outcome: Outcome) -> Noted:
        """Reset the count; on the run's own record also keep the revision, read pushed_at."""
        values: dict[str, Any] = {":zero": {"N": "0"}, ":me": {"S": outcome.execution_arn}}
        expression = "SET consecutive_failures = :zero REMOVE revision"
        if outcome.to_revision is not None:
            values[":revision"] = {"S": outcome.to_revision}
            expression = "SET consecutive_failures = :zero, revision = :revision"
        try:
            updated = self._dynamodb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression=expression,
                ConditionExpression="execution = :me",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            # the run could not write its record (noted in its record_error), or a later run
            # already replaced it: the count still restarts, nothing else is claimed
            self._dynamodb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="SET consecutive_failures = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
            return Noted(0, None)
        pushed_at = updated["Attributes"].get("pushed_at", {}).get("S")
        if pushed_at is None:
            return Noted(0, None)
        seconds = (outcome.announced_at - _time(pushed_at, "pushed_at")).total_seconds()
        return Noted(0, max(0.0, seconds))


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} is not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise InvalidRequest(f"{name} {value!r} has no time zone")
    return parsed
