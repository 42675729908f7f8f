"""Which execution inputs a run deploys, and the reason it gives for any other.

The state machine's "Describe the push" state calls `describe_push` (through
`functions/describe_push`) with the execution input, either the ECR "ECR Image Action" event
EventBridge delivers or a hand-written replay `{repository?, tag?, digest?}`, and the
execution's start time. It returns the `NormalisedPush` every later state reads or raises
`InvalidPush`, whose message is the reason the run is rejected. Nothing is looked up here:
whether the image exists is ECR's answer ("Find the pushed image").

The rules live in `InputRules` (one method per kind of input; the grammar of each field in
`pushgate.grammar`), so that a new rule is one check in one place. In order: the input's size;
for an ECR event its source and detail-type, the detail (action, result, repository, digest,
tag), the account and region (the stack's own), the time (RFC 3339, at most five minutes after
the run started; stored as `grammar.canonical_time`, the one form the superseded check compares
as strings); for a replay its repository (the stack's), a tag or digest, their grammar. A
replay's `pushed_at` is the run's start in the same canonical form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from pushgate.errors import InvalidPush
from pushgate.grammar import (
    ACCOUNT_PATTERN,
    DIGEST_PATTERN,
    canonical_time,
    parse_time,
    shown,
    tag_problem,
)
from pushgate.push import DescribeRequest, ImageId, NormalisedPush, Stack

ECR_SOURCE: Final = "aws.ecr"
ECR_DETAIL_TYPE: Final = "ECR Image Action"
# A real ECR event is about 700 bytes and a replay far less: anything much bigger is no push,
# and would only crowd the execution's 256 KiB of state (checked before any other rule).
MAX_INPUT_BYTES: Final = 8192
MAX_FUTURE: Final = timedelta(minutes=5)  # how far after the run's start a push may be dated


def _text(value: Any) -> str | None:
    """`value` when it is a string (ASL's IsString), else None."""
    return value if isinstance(value, str) else None


class InputRules:
    """Which inputs a run deploys, and the reason it gives for any other. One place per rule.

    Field presence follows JSON, not Python: a key whose value is null is present (it is not
    the string a rule asks for), a missing key is absent. A rule quotes a value only once it
    is known to be a string, and then bounded (`shown`), so every reason is short.
    """

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def describe(self, request: DescribeRequest) -> NormalisedPush:
        data = request.input
        size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_INPUT_BYTES:
            raise InvalidPush(
                f"the input is {size} bytes of JSON, more than the {MAX_INPUT_BYTES} a push "
                "or a replay request can be"
            )
        if isinstance(data, Mapping) and "source" in data:
            return self._ecr_event(data, request.started_at)
        if isinstance(data, Mapping) and "detail" not in data:
            return self._replay(data, request.started_at)
        raise self._unreadable()

    # --- an ECR event --------------------------------------------------------------------------
    def _ecr_event(self, event: Mapping[str, Any], started_at: datetime) -> NormalisedPush:
        source = _text(event["source"])
        if source is None:
            raise self._unreadable()
        if source != ECR_SOURCE:
            raise InvalidPush(
                f"source {shown(source)} is not {ECR_SOURCE}: only ECR pushes and replay "
                "requests are deployed"
            )
        detail_type = _text(event.get("detail-type"))
        if detail_type is not None and detail_type != ECR_DETAIL_TYPE:
            raise InvalidPush(f"detail-type {shown(detail_type)} is not {ECR_DETAIL_TYPE}")
        detail = event.get("detail")
        detail = detail if isinstance(detail, Mapping) else {}
        self._check_ecr_detail(detail)
        if "image-digest" not in detail:
            raise InvalidPush("the ECR event has no image-digest")
        account, region, time = (_text(event.get(key)) for key in ("account", "region", "time"))
        self._check_origin(account, region)
        pushed_at = self._pushed_at(time, started_at) if time is not None else None
        tag = detail.get("image-tag")
        digest = _text(detail["image-digest"])
        if (
            detail_type is None
            or any(_text(detail.get(key)) is None for key in ("action-type", "result"))
            or _text(detail.get("repository-name")) is None
            or digest is None
            or account is None
            or region is None
            or pushed_at is None
            or ("image-tag" in detail and not isinstance(tag, str))
        ):
            raise self._unreadable()
        return NormalisedPush(
            source="ecr",
            repository=self._stack.repository,
            tag=tag,
            digest=digest,
            account=account,
            region=region,
            pushed_at=pushed_at,
            image_id={"ImageDigest": digest},
        )

    def _check_ecr_detail(self, detail: Mapping[str, Any]) -> None:
        """The detail's own rules, most specific first (each quotes a string it checked)."""
        action = _text(detail.get("action-type"))
        if action is not None and action != "PUSH":
            raise InvalidPush(f"action-type {shown(action)} is not a PUSH")
        result = _text(detail.get("result"))
        if result is not None and result != "SUCCESS":
            raise InvalidPush(f"result {shown(result)} is not SUCCESS: the push did not complete")
        repository = _text(detail.get("repository-name"))
        if repository is not None and repository != self._stack.repository:
            raise self._other_repository(repository)
        self._check_image(
            _text(detail.get("image-digest")), _text(detail.get("image-tag")), prefix="image-"
        )

    def _check_origin(self, account: str | None, region: str | None) -> None:
        """An image is pinned only from the stack's own registry: its account and region."""
        if account is not None and account != self._stack.account:
            what = "is not" if ACCOUNT_PATTERN.match(account) else "is not an account id and not"
            raise InvalidPush(
                f"account {shown(account)} {what} {self._stack.account}, the account this "
                "stack deploys from"
            )
        if region is not None and region != self._stack.region:
            raise InvalidPush(
                f"region {shown(region)} is not {self._stack.region}, the region this stack "
                "deploys from"
            )

    @staticmethod
    def _pushed_at(time: str, started_at: datetime) -> str:
        """The push's time in the one canonical form, at most MAX_FUTURE after the start."""
        moment = parse_time(time)
        if moment is None:
            raise InvalidPush(f"time {shown(time)} is not an RFC 3339 date-time")
        if moment - started_at > MAX_FUTURE:
            raise InvalidPush(
                f"time {shown(time)} is more than {MAX_FUTURE.seconds // 60} minutes after "
                f"the run started ({canonical_time(started_at)}): a push cannot come from the "
                "future"
            )
        return canonical_time(moment)

    # --- a replay ------------------------------------------------------------------------------
    def _replay(self, request: Mapping[str, Any], started_at: datetime) -> NormalisedPush:
        repository = request.get("repository", self._stack.repository)
        if isinstance(repository, str) and repository != self._stack.repository:
            raise self._other_repository(repository)
        if "digest" not in request and "tag" not in request:
            raise InvalidPush(
                "the replay request has neither a tag nor a digest: give "
                '{"tag": ...} or {"digest": "sha256:..."}'
            )
        digest, tag = _text(request.get("digest")), request.get("tag")
        self._check_image(digest, _text(tag))
        if (
            not isinstance(repository, str)
            or ("digest" in request and digest is None)
            or ("tag" in request and not isinstance(tag, str))
        ):
            raise self._unreadable()
        image_id: ImageId = {"ImageDigest": digest} if digest else {"ImageTag": str(tag)}
        return NormalisedPush(
            source="replay",
            repository=self._stack.repository,
            tag=tag,
            digest=digest,
            account=self._stack.account,
            region=self._stack.region,
            pushed_at=canonical_time(started_at),  # a replay is the operator's newest intent
            image_id=image_id,
        )

    # --- the rules shared by both kinds ----------------------------------------------------------
    @staticmethod
    def _check_image(digest: str | None, tag: str | None, *, prefix: str = "") -> None:
        """The digest's and the tag's grammar; `prefix` names the fields ("image-" in ECR's)."""
        if digest is not None and not DIGEST_PATTERN.match(digest):
            # the wording predates the full check; the grammar is in docs/state-machine.md
            raise InvalidPush(f"{prefix}digest {shown(digest)} is not a sha256: digest")
        problem = tag_problem(tag, f"{prefix}tag") if tag is not None else None
        if problem is not None:
            raise InvalidPush(problem)

    def _other_repository(self, repository: str) -> InvalidPush:
        return InvalidPush(
            f"repository {shown(repository)} is not {self._stack.repository}, the repository "
            "this stack deploys"
        )

    def _unreadable(self) -> InvalidPush:
        return InvalidPush(
            f"the input is neither a successful ECR PUSH of {self._stack.repository} with a "
            "digest (and account, region, time) nor a replay request {repository?, tag?, "
            "digest?} of strings"
        )


def describe_push(event: Any, stack: Stack) -> NormalisedPush:
    """The normalised push of a describe_push event, or InvalidPush naming the failed check."""
    return InputRules(stack).describe(DescribeRequest.from_event(event))
