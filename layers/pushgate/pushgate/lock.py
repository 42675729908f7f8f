"""The deployment lock: one run per service at a time, owned by its execution.

"Take the deployment lock" calls this through `functions/take_lock`. The lock is a DynamoDB item
``{lock_id: <cluster>/<service>, owner: <execution ARN>, digest, pushed_at, taken_at}``. It has no
clock: it is stale exactly when its owner is no longer RUNNING (``states:DescribeExecution``).

Each take is one transaction of two parts: the put of the lock item (free, or already ours: a
redrive; or, taking a stale lock over, still the stale owner's, so two waiting runs cannot both
take it) and a check that the "#serving" item, what the last successful run left serving, is not
a newer push than this one. A newer push serving already means the run is superseded: the lock
is not taken and the run ends with nothing touched.

While another RUNNING execution holds the lock, `DeploymentLockHeld` is raised (the definition's
Retry asks again every minute); once this run has waited longer than its lock wait, counted from
the execution's start, `DeploymentLockTimeout`. The release stays in the definition (a
conditional ``dynamodb:deleteItem``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypedDict

from botocore.exceptions import ClientError

from pushgate import settings
from pushgate.errors import DeploymentLockHeld, DeploymentLockTimeout, InvalidRequest
from pushgate.lockwait import NO_SUCH_EXECUTION, RUNNING, still_held

_FREE_OR_OURS: Final = "attribute_not_exists(lock_id) OR #owner = :owner"
_STILL_STALE: Final = "#owner = :owner"
_NOT_NEWER: Final = "attribute_not_exists(pushed_at) OR pushed_at <= :pushed_at"


class LockTaken(TypedDict):
    """What "Take the deployment lock" answers (the run holds the lock unless superseded)."""

    superseded: bool  # a newer push serves already: the lock was not taken
    taken_over: str | None  # the ended execution whose stale lock this run took over


def _text(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{key!r} is required and must be a non-empty string")
    return value


def _instant(value: str, key: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{key!r} must be an ISO 8601 time, got {value!r}") from None
    if instant.tzinfo is None:
        raise InvalidRequest(f"{key!r} must name its time zone, got {value!r}")
    return instant


@dataclass(frozen=True, kw_only=True)
class LockRequest:
    """A parsed ``take_lock`` event."""

    lock_id: str
    serving_id: str
    owner: str  # this execution's ARN
    digest: str
    pushed_at: str
    started_at: datetime  # the execution's start: the lock wait is counted from it
    lock_wait_seconds: float

    @classmethod
    def from_event(cls, event: Any) -> LockRequest:
        """``{lock_id, serving_id, owner, digest, pushed_at, started_at, lock_wait_seconds}``;
        raises InvalidRequest."""
        if not isinstance(event, Mapping):
            raise InvalidRequest("the event must be a JSON object")
        wait = event.get("lock_wait_seconds")
        if isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0:
            raise InvalidRequest(f"'lock_wait_seconds' must be a number >= 0, got {wait!r}")
        return cls(
            lock_id=_text(event, "lock_id"),
            serving_id=_text(event, "serving_id"),
            owner=_text(event, "owner"),
            digest=_text(event, "digest"),
            pushed_at=_text(event, "pushed_at"),
            started_at=_instant(_text(event, "started_at"), "started_at"),
            lock_wait_seconds=float(wait),
        )


def lock_table(environ: Mapping[str, str]) -> str:
    """The lock table's name (``LOCK_TABLE_NAME``); raises InvalidRequest when it is not set."""
    table = environ.get(settings.LOCK_TABLE_NAME, "").strip()
    if not table:
        raise InvalidRequest(f"{settings.LOCK_TABLE_NAME} must name the lock table")
    return table


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeploymentLock:
    """Takes the lock of one table (the DynamoDB and Step Functions clients are injected)."""

    def __init__(
        self, dynamodb: Any, sfn: Any, table: str, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._dynamodb = dynamodb
        self._sfn = sfn
        self._table = table
        self._clock = clock

    def take(self, request: LockRequest) -> LockTaken:
        """Take the lock for `request.owner`, take a stale one over, or say the run is
        superseded; raises DeploymentLockHeld or DeploymentLockTimeout while another run holds
        it."""
        taken = self._put(request, _FREE_OR_OURS, request.owner)
        if taken is not None:
            return LockTaken(superseded=taken, taken_over=None)
        holder = self._holder(request.lock_id)
        if holder is not None and self._is_running(holder):
            raise self._still_held(request, f"is held by {holder}, which is still running")
        # the holder ended (or released the lock meanwhile): take it, unless a third run did
        condition = _FREE_OR_OURS if holder is None else _STILL_STALE
        taken = self._put(request, condition, request.owner if holder is None else holder)
        if taken is None:
            raise self._still_held(request, "was taken by another waiting run first")
        return LockTaken(superseded=taken, taken_over=None if taken else holder)

    def _put(self, request: LockRequest, condition: str, owner: str) -> bool | None:
        """One transaction; True: superseded (nothing written), False: taken, None: held."""
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": self._lock_item(request, condition, owner)},
                    {"ConditionCheck": self._not_superseded(request)},
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if len(reasons) != 2 or "ConditionalCheckFailed" not in reasons:
                raise
            return True if reasons[1] == "ConditionalCheckFailed" else None
        return False

    def _lock_item(self, request: LockRequest, condition: str, owner: str) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": {
                "lock_id": {"S": request.lock_id},
                "owner": {"S": request.owner},
                "digest": {"S": request.digest},
                "pushed_at": {"S": request.pushed_at},
                "taken_at": {"S": self._clock().isoformat()},
            },
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": {"S": owner}},
        }

    def _not_superseded(self, request: LockRequest) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": {"lock_id": {"S": request.serving_id}},
            "ConditionExpression": _NOT_NEWER,
            "ExpressionAttributeValues": {":pushed_at": {"S": request.pushed_at}},
        }

    def _holder(self, lock_id: str) -> str | None:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"lock_id": {"S": lock_id}}, ConsistentRead=True
        ).get("Item", {})
        owner = item.get("owner", {}).get("S")
        return owner if isinstance(owner, str) else None

    def _is_running(self, execution_arn: str) -> bool:
        try:
            status = self._sfn.describe_execution(executionArn=execution_arn)["status"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NO_SUCH_EXECUTION:
                return False
            raise
        return bool(status == RUNNING)

    def _still_held(self, request: LockRequest, why: str) -> Exception:
        """DeploymentLockHeld, or DeploymentLockTimeout once the run's lock wait is over."""
        return still_held(
            f"the deployment lock of {request.lock_id} {why}",
            (self._clock() - request.started_at).total_seconds(),
            request.lock_wait_seconds,
            retry=DeploymentLockHeld,
            timeout=DeploymentLockTimeout,
        )
