"""Property: every input the rules refuse ends `rejected`, with nothing touched (issue 17).

Hypothesis generates ECR push events and replay requests, then removes fields, mistypes them,
oversizes them and fills them with hostile strings. An oracle (a small implementation of the
rules of docs/state-machine.md, written apart from pushgate's) tells the few valid ones from the
rest. Each invalid one runs through the real definition offline and must end `rejected` at
"Describe the push", with the database revision, the service's task definition and its desired
count unchanged, no lock left, and no state's data over Step Functions' 256 KiB. Each valid one
must be accepted by describe_push as the oracle expects.

The sample is bounded in `make test`; `make fuzz-inputs` runs a larger one and prints the counts
(PUSHGATE_FUZZ_EXAMPLES sets the number of examples).
"""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pushgate.errors import InvalidPush
from pushgate.push import Stack
from pushgate.push_rules import describe_push
from pushgate_cli.embedded import DatabaseServer
from pushgate_cli.rehearse import (
    ACCOUNT_ID,
    REGION,
    RehearsalConfig,
    RehearsalEnvironment,
    sample_push_event,
)

from tests.helpers import load_event

pytestmark = pytest.mark.statemachine

EXAMPLES = int(os.environ.get("PUSHGATE_FUZZ_EXAMPLES", "30"))  # make fuzz-inputs sets more
STATE_LIMIT = 256 * 1024  # Step Functions' limit on a state's input or output
REPOSITORY = "shop/api"  # samconfig.toml's dev RepositoryName, which the rehearsal deploys

# --- the oracle: the rules, written again, small and apart from pushgate ----------------------
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}$")
_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$",
    re.IGNORECASE,
)


def _time_ok(value: Any, now: datetime) -> bool:
    if not isinstance(value, str) or not _TIME.match(value) or value.endswith("\n"):
        return False
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        return moment.astimezone(UTC) <= now + timedelta(minutes=5)
    except (ValueError, OverflowError):
        return False


def _tag_ok(value: Any) -> bool:
    return isinstance(value, str) and _TAG.match(value) is not None and "\n" not in value


def _digest_ok(value: Any) -> bool:
    return isinstance(value, str) and _DIGEST.match(value) is not None and "\n" not in value


def oracle_accepts(data: Any, now: datetime) -> bool:
    """Whether a run with this execution input, started at `now`, deploys (if the image exists)."""
    if len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()) > 8192:
        return False
    if not isinstance(data, dict):
        return False
    if "source" in data:
        detail = data.get("detail")
        return (
            data["source"] == "aws.ecr"
            and data.get("detail-type") == "ECR Image Action"
            and data.get("account") == ACCOUNT_ID
            and data.get("region") == REGION
            and _time_ok(data.get("time"), now)
            and isinstance(detail, dict)
            and detail.get("action-type") == "PUSH"
            and detail.get("result") == "SUCCESS"
            and detail.get("repository-name") == REPOSITORY
            and _digest_ok(detail.get("image-digest"))
            and ("image-tag" not in detail or _tag_ok(detail["image-tag"]))
        )
    if "detail" in data or data.get("repository", REPOSITORY) != REPOSITORY:
        return False
    if "tag" not in data and "digest" not in data:
        return False
    return ("tag" not in data or _tag_ok(data["tag"])) and (
        "digest" not in data or _digest_ok(data["digest"])
    )


# --- the generator ---------------------------------------------------------------------------
HOSTILE = [
    "",
    " ",
    "\n",
    "latest\n",
    "v1;rm -rf /",
    "$(reboot)",
    "../../etc/passwd",
    "${RepositoryName}",
    '{"json": true}',
    "\x00",
    "é",
    "\u202e",
    "💥",
    "-v1",
    ".v1",
    "v1:2",
    "v" * 300,
    "v" * 301,
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "A" * 64,
    "sha256:" + "g" * 64,
    "md5:" + "a" * 32,
    "SHOP/API",
    "shop/api ",
    "other/app",
    "a",
    "999988887777",
    "12345678901",
    "1234567890123",
    "１２３４５６７８９０１２",  # noqa: RUF001 - full-width digits
    "us-west-2",
    "US-EAST-1",
    "9999-12-31T23:59:59Z",
    "2019-11-16T01:54:34",
    "2019-11-16 01:54:34Z",
    "2019-02-29T00:00:00Z",
    "2019-11-16T23:59:60Z",
    "2019-11-16t01:54:34.5z",
    "2019-11-16T01:54:34+05:30",
]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.integers(min_value=9_000, max_value=140_000).map(lambda n: "a" * n),  # oversized
)
ECR_FIELDS: list[tuple[str, ...]] = [
    ("source",),
    ("detail-type",),
    ("account",),
    ("region",),
    ("time",),
    ("detail",),
    ("detail", "action-type"),
    ("detail", "result"),
    ("detail", "repository-name"),
    ("detail", "image-digest"),
    ("detail", "image-tag"),
]
REPLAY_FIELDS: list[tuple[str, ...]] = [
    ("repository",),
    ("tag",),
    ("digest",),
    ("detail",),
    ("source",),
]


@st.composite
def execution_inputs(draw: st.DrawFn, digest: str) -> tuple[Any, str]:
    """An input and the kind of damage done to it (for the counts)."""
    now = datetime.now(UTC)
    if draw(st.integers(0, 19)) == 0:
        return draw(JUNK), "not-an-object"
    if draw(st.booleans()):
        when = now + timedelta(minutes=draw(st.sampled_from([-600, -1, 0, 4, 6, 60])))
        data: dict[str, Any] = sample_push_event(REPOSITORY, "release-2", digest, when)
        fields, kind = ECR_FIELDS, "ecr"
    else:
        keys = draw(
            st.sampled_from([("tag",), ("digest",), ("repository", "tag"), ("tag", "digest")])
        )
        values = {"repository": REPOSITORY, "tag": "release-2", "digest": digest}
        data = {key: values[key] for key in keys}
        fields, kind = REPLAY_FIELDS, "replay"
    damage = []
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(fields))
        parent: Any = data
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if draw(st.booleans()):
            parent.pop(path[-1], None)
            damage.append("removed")
        else:
            parent[path[-1]] = draw(JUNK)
            damage.append("replaced")
    return data, f"{kind}:{'+'.join(sorted(set(damage))) or 'intact'}"


# --- the world: one rehearsal for the whole sample ---------------------------------------------
COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def world(
    postgres_server: DatabaseServer, request: pytest.FixtureRequest
) -> Iterator[tuple[RehearsalEnvironment, str]]:
    """One RehearsalEnvironment (its own database) and the digest of an image it holds."""
    name = f"pushgate_fuzz_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    try:
        with RehearsalEnvironment(RehearsalConfig(database_url=url)) as env:
            assert env.resolver.ref("RepositoryName") == REPOSITORY
            yield env, env.push_image("release-2")
    finally:
        postgres_server.drop_database(name)
        _report_counts(request.config)


def _report_counts(config: pytest.Config) -> None:
    """The sample's counts on the terminal (past pytest's capture), for `make fuzz-inputs`."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not COUNTS:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(f"input fuzz, {EXAMPLES} examples: {dict(sorted(COUNTS.items()))}")


def lock_items(env: RehearsalEnvironment) -> list[dict[str, Any]]:
    table = env.resolver.ref("LockTable")
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]
    return [item for item in items if not item["lock_id"]["S"].endswith("#serving")]


def largest_state(history: list[dict[str, Any]]) -> int:
    sizes = [
        len(str(details.get(key, "")).encode())
        for event in history
        for details in event.values()
        if isinstance(details, dict)
        for key in ("input", "output")
    ]
    return max(sizes, default=0)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_input_the_rules_refuse_is_rejected_with_nothing_touched(
    world: tuple[RehearsalEnvironment, str], data: st.DataObject
) -> None:
    env, digest = world
    # GIVEN a generated input, damaged or not, and what the oracle says of it
    execution_input, kind = data.draw(execution_inputs(digest))
    now = datetime.now(UTC)
    if oracle_accepts(execution_input, now):
        # THEN (valid) describe_push accepts it too
        COUNTS["valid"] += 1
        stack = Stack(repository=REPOSITORY, account=ACCOUNT_ID, region=REGION)
        started_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        push = describe_push(
            {"input": copy.deepcopy(execution_input), "started_at": started_at}, stack
        )
        assert push["repository"] == REPOSITORY
        return
    COUNTS[f"invalid {kind}"] += 1

    # WHEN it starts a run of the real definition
    result = env.execute(execution_input)

    # THEN the run is rejected by describe_push before anything is looked up or touched
    assert result.status == "rejected", (execution_input, result.path)
    assert "Find the pushed image" not in result.path, execution_input
    assert "Take the deployment lock" not in result.path
    assert result.revision_after == result.revision_before
    assert result.service.task_definition == result.service_before.task_definition
    assert result.service.desired_count == result.service_before.desired_count
    assert lock_items(env) == []
    assert largest_state(result.execution.history) <= STATE_LIMIT
    COUNTS["rejected"] += 1


def test_the_oracle_and_describe_push_agree_on_awss_own_sample_event() -> None:
    # GIVEN AWS's documented sample push (60-digit digest, us-west-2): both refuse it
    sample = load_event("ecr_push")
    sample["detail"]["repository-name"] = REPOSITORY
    stack = Stack(repository=REPOSITORY, account=ACCOUNT_ID, region=REGION)
    assert not oracle_accepts(sample, datetime.now(UTC))
    with pytest.raises(InvalidPush):
        describe_push({"input": sample, "started_at": "2019-11-16T01:54:36.123Z"}, stack)


@pytest.mark.parametrize("size", [129_000, 200_000])
def test_an_oversized_tag_is_rejected_and_announced_within_the_state_limit(
    world: tuple[RehearsalEnvironment, str], size: int
) -> None:
    # GIVEN a push whose tag is 129 KB (the issue's: it migrated, pinned and died) or 200 KB
    env, digest = world
    event = sample_push_event(REPOSITORY, "release-2", digest, datetime.now(UTC))
    event["detail"]["image-tag"] = "a" * size

    # WHEN it starts a run
    result = env.execute(event)

    # THEN it is rejected at "Describe the push" and the rejection is announced, nothing
    # touched, and no state carried more than Step Functions allows (in AWS such a run dies)
    assert result.status == "rejected"
    assert "Find the pushed image" not in result.path
    assert result.alerts == ["Deployment Rejected"]
    assert result.revision_after == result.revision_before
    assert result.service == result.service_before
    assert largest_state(result.execution.history) <= STATE_LIMIT
    # AND the alert says how big the input was instead of carrying it
    (event,) = result.events
    assert "bytes of JSON" in event["Detail"]["input"]["omitted"]


def serving_pushed_at(env: RehearsalEnvironment) -> str:
    """The pushed_at of the "#serving" record, as the superseded check reads it."""
    table = env.resolver.ref("LockTable")
    p = env.resolver.ref
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=table, Key={"lock_id": {"S": f"{p('ClusterName')}/{p('ServiceName')}#serving"}}
    )["Item"]
    return str(item["pushed_at"]["S"])


def test_a_push_from_the_far_future_is_refused_and_later_pushes_still_deploy(
    world: tuple[RehearsalEnvironment, str],
) -> None:
    env, _ = world
    # GIVEN a push dated 9999-12-31 (today it deployed, and every genuine push after it ended
    # superseded)
    future = env.push_event("release-3")
    future["time"] = "9999-12-31T23:59:59Z"

    # WHEN it runs, then a genuine push, then a replay by tag
    refused = env.execute(future)
    genuine = env.execute(env.push_event("release-4"))
    env.push_image("release-5")
    replay = env.execute({"tag": "release-5"})

    # THEN the first is rejected with nothing touched, and both later ones deploy, each
    # recording its pushed_at in the one canonical UTC form
    assert refused.status == "rejected"
    assert refused.service == refused.service_before
    assert genuine.status == "succeeded", genuine.path
    assert replay.status == "succeeded", replay.path
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", serving_pushed_at(env))


def test_a_push_older_than_a_replay_is_superseded_by_time_not_by_spelling(
    world: tuple[RehearsalEnvironment, str],
) -> None:
    env, _ = world
    # GIVEN a replay deployed now, and a push of the same second an hour earlier written with
    # an offset (+02:00: its string is "later" than the replay's, its instant is not)
    env.push_image("release-6")
    assert env.execute({"tag": "release-6"}).status == "succeeded"
    recorded = serving_pushed_at(env)
    earlier = datetime.fromisoformat(recorded.replace("Z", "+00:00")) - timedelta(hours=1)
    late = env.push_event("release-7")
    late["time"] = earlier.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert late["time"] > recorded

    # WHEN the older push's run arrives
    result = env.execute(late)

    # THEN it is superseded: the replay's image keeps serving
    assert result.status == "superseded", result.path
    assert result.service == result.service_before
