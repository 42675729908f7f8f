"""take_lock: the deployment lock against an emulated DynamoDB and Step Functions (moto).

What an operator would check: the lock item in the table (who owns it), whether a second run
may go on, when it gives up, and that a push older than the one serving is not deployed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws
from pushgate import settings
from pushgate.errors import DeploymentLockHeld, DeploymentLockTimeout, InvalidRequest
from pushgate.lock import DeploymentLock, LockRequest
from pushgate_cli.handlers import load_handler

from tests.helpers import execution_of, load_event

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.aws

REGION = "us-east-1"
TABLE = "locks"
SAMPLE = load_event("take_lock")
STARTED = datetime.fromisoformat(SAMPLE["started_at"])


class Clock:
    """A clock the test moves: the run's time since its start."""

    def __init__(self) -> None:
        self.now = STARTED + timedelta(seconds=5)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lock(aws: None, clock: Clock) -> DeploymentLock:
    return DeploymentLock(boto3.client("dynamodb"), boto3.client("stepfunctions"), TABLE, clock)


def request(**overrides: Any) -> LockRequest:
    return LockRequest.from_event({**SAMPLE, **overrides})


def owner_of(lock_id: str = SAMPLE["lock_id"]) -> str | None:
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"lock_id": {"S": lock_id}})
    owner = item.get("Item", {}).get("owner", {}).get("S")
    return owner if isinstance(owner, str) else None


def execution(status: str) -> str:
    """The ARN of an execution of a real (emulated) state machine, RUNNING or ended."""
    sfn = boto3.client("stepfunctions")
    return execution_of(sfn, f"deploy-{status.lower()}", running=status == "RUNNING")


def serve(pushed_at: str) -> None:
    boto3.client("dynamodb").put_item(
        TableName=TABLE,
        Item={"lock_id": {"S": SAMPLE["serving_id"]}, "pushed_at": {"S": pushed_at}},
    )


def test_a_free_lock_is_taken_by_the_run(lock: DeploymentLock) -> None:
    # GIVEN no lock item WHEN a run takes the lock THEN the item names its execution
    assert lock.take(request()) == {"superseded": False, "taken_over": None}
    assert owner_of() == SAMPLE["owner"]
    # AND a redrive of the same execution takes it again
    assert lock.take(request()) == {"superseded": False, "taken_over": None}


def test_a_lock_whose_owner_still_runs_is_held(lock: DeploymentLock) -> None:
    # GIVEN the lock taken by a run that is still RUNNING
    running = execution("RUNNING")
    lock.take(request(owner=running))
    # WHEN another run asks for it THEN it is told to wait, and the lock stays the owner's
    with pytest.raises(DeploymentLockHeld):
        lock.take(request())
    assert owner_of() == running


def test_a_lock_whose_owner_ended_is_taken_over(lock: DeploymentLock) -> None:
    # GIVEN the lock left behind by a run that was stopped, and one by a run that is no more
    for stale in (execution("ABORTED"), "arn:aws:states:us-east-1:123456789012:execution:x:gone"):
        lock.take(request(owner=stale))
        # WHEN another run asks for it THEN it takes it over, naming the stale owner
        assert lock.take(request()) == {"superseded": False, "taken_over": stale}
        assert owner_of() == SAMPLE["owner"]
        boto3.client("dynamodb").delete_item(
            TableName=TABLE, Key={"lock_id": {"S": SAMPLE["lock_id"]}}
        )


class RacingDynamoDB:
    """The DynamoDB client, with another waiting run taking the stale lock over right after
    this run read its owner."""

    def __init__(self, other: DeploymentLock, other_owner: str) -> None:
        self._client = boto3.client("dynamodb")
        self._other, self._other_owner = other, other_owner

    def get_item(self, **kwargs: Any) -> Any:
        read = self._client.get_item(**kwargs)
        self._other.take(request(owner=self._other_owner))
        return read

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_of_two_runs_taking_a_stale_lock_over_only_one_gets_it(
    lock: DeploymentLock, clock: Clock
) -> None:
    # GIVEN a stale lock, and another waiting run that takes it over while this run looks at it
    lock.take(request(owner=execution("ABORTED")))
    other = execution("RUNNING")
    racing = DeploymentLock(
        RacingDynamoDB(lock, other), boto3.client("stepfunctions"), TABLE, clock
    )
    # WHEN this run tries to take it over THEN it is told to wait, and the other run has it
    with pytest.raises(DeploymentLockHeld):
        racing.take(request())
    assert owner_of() == other


def test_the_wait_ends_once_the_run_has_waited_longer_than_its_lock_wait(
    lock: DeploymentLock, clock: Clock
) -> None:
    # GIVEN the lock held by a running run, and a run that started its lock wait ago
    running = execution("RUNNING")
    lock.take(request(owner=running))
    clock.now = STARTED + timedelta(seconds=SAMPLE["lock_wait_seconds"])
    # WHEN it asks again THEN it gives up, with nothing taken
    with pytest.raises(DeploymentLockTimeout):
        lock.take(request())
    assert owner_of() == running


def test_a_push_older_than_the_one_serving_is_superseded_and_takes_no_lock(
    lock: DeploymentLock,
) -> None:
    # GIVEN a newer push serving already
    serve("2025-06-01T12:30:00Z")
    # WHEN the older push's run asks for the lock THEN it is superseded and takes nothing
    assert lock.take(request()) == {"superseded": True, "taken_over": None}
    assert owner_of() is None
    # AND the same push serving (a replay) goes on
    serve(SAMPLE["pushed_at"])
    assert lock.take(request()) == {"superseded": False, "taken_over": None}


@pytest.mark.parametrize(
    "overrides",
    [
        {"lock_id": ""},
        {"owner": None},
        {"started_at": "yesterday"},
        {"started_at": "2025-06-01T12:00:01"},
        {"lock_wait_seconds": "4200"},
        {"lock_wait_seconds": True},
    ],
    ids=["empty-lock-id", "no-owner", "not-a-time", "no-time-zone", "wait-a-string", "wait-bool"],
)
def test_a_malformed_call_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        request(**overrides)


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv(settings.LOCK_TABLE_NAME, TABLE)
    return load_handler("take_lock", fresh=True)


def test_the_handler_takes_the_lock_and_raises_while_it_is_held(
    handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN the function at cold start WHEN two runs that started just now ask for the lock
    running = execution("RUNNING")
    now = {"started_at": datetime.now(UTC).isoformat()}
    taken = handler.lambda_handler({**SAMPLE, **now, "owner": running}, lambda_context)
    # THEN the first has it and the second is told it is held
    assert taken == {"superseded": False, "taken_over": None}
    with pytest.raises(DeploymentLockHeld):
        handler.lambda_handler({**SAMPLE, **now}, lambda_context)


def test_the_handler_refuses_to_start_without_its_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.LOCK_TABLE_NAME, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with pytest.raises(InvalidRequest):
        load_handler("take_lock", fresh=True)
