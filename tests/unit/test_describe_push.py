"""describe_push: which execution inputs a run deploys, and the reason it gives for the rest.

The reasons are the causes the "Deployment Rejected" alert carries: each test asserts the text a
reader of that alert sees.
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from pushgate import settings
from pushgate.errors import InvalidPush, InvalidRequest
from pushgate.push import NormalisedPush, Stack
from pushgate.push_rules import describe_push
from pushgate_cli.handlers import load_handler

from tests.helpers import load_event

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = pytest.mark.unit

REPOSITORY = "my-repository-name"
STACK = Stack(repository=REPOSITORY, account="111122223333", region="eu-west-1")
STARTED_AT = "2025-06-01T12:00:00.123Z"
DIGEST = "sha256:" + "ab" * 32


def describe(execution_input: Any) -> NormalisedPush:
    return describe_push({"input": execution_input, "started_at": STARTED_AT}, STACK)


def reason(execution_input: Any) -> str:
    with pytest.raises(InvalidPush) as raised:
        describe(execution_input)
    return str(raised.value)


PUSHED_AT = "2025-06-01T11:59:58Z"


def ecr_push(**detail: Any) -> dict[str, Any]:
    """AWS's sample push event, from the stack's account, region and repository, with a
    full-length digest (the sample's has 60 digits), `detail` fields replaced."""
    event: dict[str, Any] = copy.deepcopy(load_event("ecr_push"))
    event.update(account=STACK.account, region=STACK.region, time=PUSHED_AT)
    event["detail"].update({"repository-name": REPOSITORY, "image-digest": DIGEST})
    event["detail"].update(detail)
    return event


UNREADABLE = (
    f"the input is neither a successful ECR PUSH of {REPOSITORY} with a digest (and account, "
    "region, time) nor a replay request {repository?, tag?, digest?} of strings"
)


# --- what is deployed ----------------------------------------------------------------------
def test_an_ecr_push_is_described_as_ecr_reported_it() -> None:
    # GIVEN the push event EventBridge delivers
    event = ecr_push()
    # WHEN it is described
    push = describe(event)
    # THEN every field comes from the event (its time in the canonical UTC form), and the
    # image is looked up by its digest
    assert push == {
        "source": "ecr",
        "repository": REPOSITORY,
        "tag": "latest",
        "digest": DIGEST,
        "account": STACK.account,
        "region": STACK.region,
        "pushed_at": "2025-06-01T11:59:58.000000Z",
        "image_id": {"ImageDigest": DIGEST},
    }


def test_an_untagged_push_has_no_tag() -> None:
    event = ecr_push()
    del event["detail"]["image-tag"]
    assert describe(event)["tag"] is None


@pytest.mark.parametrize(
    ("replay", "tag", "image_id"),
    [
        ({"repository": REPOSITORY, "tag": "v1", "digest": DIGEST}, "v1", {"ImageDigest": DIGEST}),
        ({"digest": DIGEST}, None, {"ImageDigest": DIGEST}),
        ({"tag": "v1"}, "v1", {"ImageTag": "v1"}),
    ],
)
def test_a_replay_is_a_push_of_the_stacks_repository_now(
    replay: dict[str, Any], tag: str | None, image_id: dict[str, str]
) -> None:
    # GIVEN a replay by tag and digest, by digest, or by tag (repository optional)
    # WHEN it is described
    push = describe(replay)
    # THEN it is the stack's own repository, account and region, pushed when the run started;
    # a tag-only replay leaves the digest to ECR
    assert push["source"] == "replay"
    assert (push["repository"], push["account"], push["region"]) == (
        STACK.repository,
        STACK.account,
        STACK.region,
    )
    assert push["pushed_at"] == "2025-06-01T12:00:00.123000Z"  # STARTED_AT, canonical
    assert push["tag"] == tag
    assert push["digest"] == replay.get("digest")
    assert push["image_id"] == image_id


def test_the_sample_lambda_event_is_a_push() -> None:
    stack = Stack(repository=REPOSITORY, account="123456789012", region="us-west-2")
    push = describe_push(load_event("describe_push"), stack)
    assert push["source"] == "ecr"
    assert push["digest"] == push["image_id"]["ImageDigest"]


# --- what is rejected, and why ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("ecr_delete", "action-type DELETE is not a PUSH"),
        ("ecr_push_failed", "result FAILURE is not SUCCESS: the push did not complete"),
    ],
)
def test_an_ecr_event_that_is_not_a_successful_push_says_which_field(
    sample: str, expected: str
) -> None:
    event = load_event(sample)
    event["detail"]["repository-name"] = REPOSITORY
    assert reason(event) == expected


@pytest.mark.parametrize(
    ("execution_input", "expected"),
    [
        (
            {**ecr_push(), "source": "aws.s3"},
            "source aws.s3 is not aws.ecr: only ECR pushes and replay requests are deployed",
        ),
        (
            {**ecr_push(), "detail-type": "ECR Scan"},
            "detail-type ECR Scan is not ECR Image Action",
        ),
        (
            ecr_push(**{"repository-name": "other/app"}),
            f"repository other/app is not {REPOSITORY}, the repository this stack deploys",
        ),
        (
            ecr_push(**{"image-digest": "md5:abc"}),
            "image-digest md5:abc is not a sha256: digest",
        ),
        (
            {
                **ecr_push(),
                "detail": {"action-type": "PUSH", "result": "SUCCESS"},
            },
            "the ECR event has no image-digest",
        ),
        (
            {"repository": "other/app", "tag": "v1"},
            f"repository other/app is not {REPOSITORY}, the repository this stack deploys",
        ),
        (
            {"repository": REPOSITORY},
            "the replay request has neither a tag nor a digest: give "
            '{"tag": ...} or {"digest": "sha256:..."}',
        ),
        (
            {"digest": "latest"},
            "digest latest is not a sha256: digest",
        ),
    ],
    ids=[
        "not-ecr",
        "not-an-image-action",
        "another-repository",
        "malformed-digest",
        "no-digest",
        "replay-of-another-repository",
        "replay-without-tag-or-digest",
        "replay-with-malformed-digest",
    ],
)
def test_each_reason_names_the_field_that_made_it_so(execution_input: Any, expected: str) -> None:
    assert reason(execution_input) == expected


@pytest.mark.parametrize(
    "execution_input",
    [
        None,
        "a string",
        [ecr_push()],
        {"source": 7},
        {"detail": {}},  # a detail without a source
        {k: v for k, v in ecr_push().items() if k != "time"},
        {**ecr_push(), "account": 123456789012},
        ecr_push(**{"image-tag": None}),
        {"tag": None},
        {"tag": "v1", "repository": 5},
        {"digest": None},
    ],
    ids=[
        "null",
        "string",
        "list",
        "source-not-a-string",
        "detail-without-source",
        "no-time",
        "account-not-a-string",
        "tag-null",
        "replay-tag-null",
        "replay-repository-not-a-string",
        "replay-digest-null",
    ],
)
def test_anything_else_is_described_as_unreadable(execution_input: Any) -> None:
    assert reason(execution_input) == UNREADABLE


def test_the_most_specific_reason_wins() -> None:
    # GIVEN a DELETE of another repository with a malformed digest
    event = ecr_push(
        **{"action-type": "DELETE", "repository-name": "other/app", "image-digest": "x"}
    )
    # THEN the action is named first, as the old definition did
    assert reason(event) == "action-type DELETE is not a PUSH"


# --- the call and the settings ---------------------------------------------------------------
@pytest.mark.parametrize(
    "event", [None, {"started_at": STARTED_AT}, {"input": {}}, {"input": {}, "started_at": 1}]
)
def test_a_malformed_call_is_an_invalid_request_not_a_rejection(event: Any) -> None:
    with pytest.raises(InvalidRequest) as raised:
        describe_push(event, STACK)
    assert not isinstance(raised.value, InvalidPush)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (settings.REPOSITORY_NAME, ""),
        (settings.REPOSITORY_NAME, "Shop/API"),
        (settings.REPOSITORY_ACCOUNT_ID, "12345"),
        (settings.REPOSITORY_REGION, "moon"),
    ],
)
def test_the_stack_settings_are_required_and_well_formed(name: str, value: str) -> None:
    environ = {
        settings.REPOSITORY_NAME: "shop/api",
        settings.REPOSITORY_ACCOUNT_ID: "111122223333",
        settings.REPOSITORY_REGION: "eu-west-1",
        name: value,
    }
    with pytest.raises(InvalidRequest) as raised:
        Stack.from_environment(environ)
    assert name in str(raised.value)


# --- the handler ---------------------------------------------------------------------------
@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv(settings.REPOSITORY_NAME, REPOSITORY)
    monkeypatch.setenv(settings.REPOSITORY_ACCOUNT_ID, STACK.account)
    monkeypatch.setenv(settings.REPOSITORY_REGION, STACK.region)
    return load_handler("describe_push", fresh=True)


def test_the_handler_returns_the_push_and_raises_the_rejection(
    handler: ModuleType, lambda_context: LambdaContext
) -> None:
    # GIVEN the function at cold start with the stack's settings
    # WHEN it is called with a replay, then with a DELETE event
    push = handler.lambda_handler(
        {"input": {"tag": "v1"}, "started_at": STARTED_AT}, lambda_context
    )
    delete = load_event("ecr_delete")
    delete["detail"]["repository-name"] = REPOSITORY
    # THEN the replay is described and the DELETE is rejected with its reason
    assert push["image_id"] == {"ImageTag": "v1"}
    with pytest.raises(InvalidPush, match=r"^action-type DELETE is not a PUSH$"):
        handler.lambda_handler({"input": delete, "started_at": STARTED_AT}, lambda_context)


def test_the_handler_refuses_to_start_without_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.REPOSITORY_NAME, raising=False)
    with pytest.raises(InvalidRequest, match=settings.REPOSITORY_NAME):
        load_handler("describe_push", fresh=True)


# --- issue 17: inputs whose every field has the right type, and still hostile ----------------
@pytest.mark.parametrize(
    ("execution_input", "expected"),
    [
        (
            {**ecr_push(), "account": "999988887777"},
            "account 999988887777 is not 111122223333, the account this stack deploys from",
        ),
        (
            {**ecr_push(), "account": "12"},
            "account 12 is not an account id and not 111122223333, the account this stack "
            "deploys from",
        ),
        (
            {**ecr_push(), "region": "us-east-1"},
            "region us-east-1 is not eu-west-1, the region this stack deploys from",
        ),
        (
            {**ecr_push(), "time": "9999-12-31T23:59:59Z"},
            "time 9999-12-31T23:59:59Z is more than 5 minutes after the run started "
            "(2025-06-01T12:00:00.123000Z): a push cannot come from the future",
        ),
        (
            {**ecr_push(), "time": "yesterday"},
            "time yesterday is not an RFC 3339 date-time",
        ),
        (
            {**ecr_push(), "time": "2025-02-30T00:00:00Z"},
            "time 2025-02-30T00:00:00Z is not an RFC 3339 date-time",
        ),
        (
            ecr_push(**{"image-tag": "v1;rm -rf"}),
            "image-tag v1;rm -rf is not a Docker tag: letters, digits, _ . and - only, not "
            "starting with . or -",
        ),
        (
            ecr_push(**{"image-tag": ""}),
            "image-tag is empty: a tag has at least one character",
        ),
        (
            ecr_push(**{"image-digest": "sha256:" + "AB" * 32}),
            f"image-digest sha256:{'AB' * 32} is not a sha256: digest",
        ),
        ({"tag": ""}, "tag is empty: a tag has at least one character"),
        (
            {"tag": "-v1"},
            "tag -v1 is not a Docker tag: letters, digits, _ . and - only, not "
            "starting with . or -",
        ),
        (
            {"tag": "v" * 301},
            "tag is 301 characters long, more than the 300 ECR allows",
        ),
        (
            {"digest": DIGEST[:-1]},
            f"digest {DIGEST[:-1]} is not a sha256: digest",
        ),
    ],
    ids=[
        "another-account",
        "malformed-account",
        "another-region",
        "from-the-far-future",
        "time-not-rfc3339",
        "time-no-such-day",
        "tag-with-shell",
        "ecr-tag-empty",
        "digest-upper-case",
        "replay-tag-empty",
        "replay-tag-leading-dash",
        "replay-tag-too-long",
        "replay-digest-63-digits",
    ],
)
def test_a_hostile_value_of_the_right_type_is_rejected_naming_it(
    execution_input: Any, expected: str
) -> None:
    assert reason(execution_input) == expected


def test_a_push_dated_a_little_ahead_of_the_run_is_deployed_and_stored_in_utc() -> None:
    # GIVEN a push whose clock runs four minutes ahead, written with an offset
    event = {**ecr_push(), "time": "2025-06-01T14:04:00.5+02:00"}
    # WHEN it is described THEN it is accepted, its time stored in the one canonical UTC form
    assert describe(event)["pushed_at"] == "2025-06-01T12:04:00.500000Z"


def test_a_tag_as_long_as_ecr_allows_is_deployed() -> None:
    tag = "v" * 300
    assert describe({"tag": tag})["image_id"] == {"ImageTag": tag}


def test_canonical_times_order_as_strings_whatever_form_they_came_in() -> None:
    # GIVEN the same instant in ECR's form and in the execution start time's, and a later one
    forms = ["2025-06-01T11:59:58Z", "2025-06-01T11:59:58.000Z", "2025-06-01T13:59:58.5+02:00"]
    pushed = [describe({**ecr_push(), "time": form})["pushed_at"] for form in forms]
    # THEN the first two are one string, and the later one compares greater
    assert pushed[0] == pushed[1] < pushed[2]


def test_an_oversized_input_is_rejected_first_with_a_short_reason() -> None:
    # GIVEN an ECR push whose tag is 129 KB (today it migrated, then died of the state limit)
    event = ecr_push(**{"image-tag": "a" * 129_000})
    # WHEN it is described THEN it is refused for its size, before any other rule, briefly
    message = reason(event)
    assert message.startswith("the input is 129")
    assert message.endswith("bytes of JSON, more than the 8192 a push or a replay request can be")


def test_a_reason_quotes_a_long_or_unprintable_value_cut_and_escaped() -> None:
    # GIVEN a replay of another repository whose name is long and holds a newline
    name = "x\n" + "y" * 500
    # WHEN it is rejected THEN the reason is one line, a bounded quote with the length
    message = reason({"repository": name, "tag": "v1"})
    assert "\n" not in message
    assert len(message) < 250
    assert "(502 characters)" in message
