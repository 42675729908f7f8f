"""The push a run deploys: what the execution input says, checked and normalised.

The state machine's "Describe the push" state calls this through `functions/describe_push`
with the execution input, which is either the ECR "ECR Image Action" event EventBridge delivers
or a hand-written replay `{repository?, tag?, digest?}`, and the execution's start time (a
replay's `pushed_at`). `describe_push` returns the one shape every later state reads
(`NormalisedPush`) or raises `InvalidPush`, whose message is the reason the run is rejected.
Nothing is looked up here: whether the image exists is ECR's answer ("Find the pushed image").

The rules for the input live in `InputRules` (one method per kind of input), so that a new
rule is one check in one place. `PushedImage` is the image once its digest is known: what
`prepare_rollout` pins in the task definition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypedDict

from pushgate import settings
from pushgate.errors import InvalidPush, InvalidRequest

DIGEST_PATTERN: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
# ECR repository names: lowercase, digits, and . _ - / separators (ECR's own pattern)
REPOSITORY_PATTERN: Final = re.compile(
    r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"
)
ACCOUNT_PATTERN: Final = re.compile(r"^[0-9]{12}$")
REGION_PATTERN: Final = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]+$")

ECR_SOURCE: Final = "aws.ecr"
ECR_DETAIL_TYPE: Final = "ECR Image Action"
DIGEST_PREFIX: Final = "sha256:"  # the format itself is ECR's to judge (it says why)


@dataclass(frozen=True)
class PushedImage:
    """An image in ECR, identified by its digest (the tag is informational only)."""

    repository: str
    digest: str
    account: str
    region: str
    tag: str | None = None

    def __post_init__(self) -> None:
        checks = (
            ("repository", self.repository, REPOSITORY_PATTERN),
            ("digest", self.digest, DIGEST_PATTERN),
            ("account", self.account, ACCOUNT_PATTERN),
            ("region", self.region, REGION_PATTERN),
        )
        for name, value, pattern in checks:
            if not pattern.fullmatch(value):
                raise InvalidRequest(f"{name} {value!r} does not match {pattern.pattern}")

    @classmethod
    def from_event(cls, event: Any) -> PushedImage:
        """Parse `{"repository", "digest", "tag"?, "account", "region"}`; InvalidRequest if bad."""
        if not isinstance(event, Mapping):
            raise InvalidRequest("the event must be a JSON object")
        values: dict[str, str] = {}
        for key in ("repository", "digest", "account", "region"):
            value = event.get(key)
            if not isinstance(value, str):
                raise InvalidRequest(f"{key!r} is required and must be a string")
            values[key] = value
        tag = event.get("tag")
        if tag is not None and not isinstance(tag, str):
            raise InvalidRequest("'tag' must be a string or null")
        return cls(tag=tag or None, **values)

    @property
    def uri(self) -> str:
        """The image reference pinned by digest, as ECS pulls it."""
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.repository}@{self.digest}"


class ImageId(TypedDict, total=False):
    """ECR's ImageIdentifier: the digest, or for a tag-only replay the tag."""

    ImageDigest: str
    ImageTag: str


class NormalisedPush(TypedDict):
    """What describe_push returns: `$.push` of the execution data (the contract the ASL reads)."""

    source: Literal["ecr", "replay"]
    repository: str
    tag: str | None
    digest: str | None  # None for a tag-only replay until ECR names the image
    account: str
    region: str
    pushed_at: str
    image_id: ImageId


@dataclass(frozen=True)
class Stack:
    """The stack's own repository and where it lives: REPOSITORY_NAME, _ACCOUNT_ID, _REGION."""

    repository: str
    account: str
    region: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Stack:
        """All three required and well-formed, none defaulted; InvalidRequest otherwise."""
        names = (
            settings.REPOSITORY_NAME,
            settings.REPOSITORY_ACCOUNT_ID,
            settings.REPOSITORY_REGION,
        )
        missing = [name for name in names if not environ.get(name, "").strip()]
        if missing:
            raise InvalidRequest(f"required setting(s) not set: {', '.join(missing)}")
        stack = cls(*(environ[name].strip() for name in names))
        checks = (
            (settings.REPOSITORY_NAME, stack.repository, REPOSITORY_PATTERN),
            (settings.REPOSITORY_ACCOUNT_ID, stack.account, ACCOUNT_PATTERN),
            (settings.REPOSITORY_REGION, stack.region, REGION_PATTERN),
        )
        for name, value, pattern in checks:
            if not pattern.fullmatch(value):
                raise InvalidRequest(f"setting {name}={value!r} does not match {pattern.pattern}")
        return stack


@dataclass(frozen=True)
class DescribeRequest:
    """The Lambda's event: `{"input": <execution input>, "started_at": <execution start>}`."""

    input: Any
    started_at: str

    @classmethod
    def from_event(cls, event: Any) -> DescribeRequest:
        """InvalidRequest when the state machine did not call it as the contract says."""
        if not isinstance(event, Mapping) or "input" not in event:
            raise InvalidRequest("the event must be a JSON object with the execution's 'input'")
        started_at = event.get("started_at")
        if not isinstance(started_at, str) or not started_at:
            raise InvalidRequest("'started_at' (the execution's start time) must be a string")
        return cls(input=event["input"], started_at=started_at)


def _text(value: Any) -> str | None:
    """`value` when it is a string (ASL's IsString), else None."""
    return value if isinstance(value, str) else None


class InputRules:
    """Which inputs a run deploys, and the reason it gives for any other. One place per rule.

    Field presence follows JSON, not Python: a key whose value is null is present (it is not
    the string a rule asks for), a missing key is absent.
    """

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def describe(self, request: DescribeRequest) -> NormalisedPush:
        data = request.input
        if isinstance(data, Mapping) and "source" in data:
            return self._ecr_event(data)
        if isinstance(data, Mapping) and "detail" not in data:
            return self._replay(data, request.started_at)
        raise self._unreadable()

    # --- an ECR event --------------------------------------------------------------------------
    def _ecr_event(self, event: Mapping[str, Any]) -> NormalisedPush:
        source = _text(event["source"])
        if source is None:
            raise self._unreadable()
        if source != ECR_SOURCE:
            raise InvalidPush(
                f"source {source} is not {ECR_SOURCE}: only ECR pushes and replay requests are "
                "deployed"
            )
        detail_type = _text(event.get("detail-type"))
        if detail_type is not None and detail_type != ECR_DETAIL_TYPE:
            raise InvalidPush(f"detail-type {detail_type} is not {ECR_DETAIL_TYPE}")
        detail = event.get("detail")
        detail = detail if isinstance(detail, Mapping) else {}
        self._check_ecr_detail(detail)
        if "image-digest" not in detail:
            raise InvalidPush("the ECR event has no image-digest")
        tag = detail.get("image-tag")
        fields = [event.get(key) for key in ("account", "region", "time")]
        account, region, time = (_text(value) for value in fields)
        digest = _text(detail["image-digest"])
        if (
            detail_type is None
            or any(_text(detail.get(key)) is None for key in ("action-type", "result"))
            or _text(detail.get("repository-name")) is None
            or digest is None
            or account is None
            or region is None
            or time is None
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
            pushed_at=time,
            image_id={"ImageDigest": digest},
        )

    def _check_ecr_detail(self, detail: Mapping[str, Any]) -> None:
        """The detail's own rules, most specific first (each quotes a string it checked)."""
        action = _text(detail.get("action-type"))
        if action is not None and action != "PUSH":
            raise InvalidPush(f"action-type {action} is not a PUSH")
        result = _text(detail.get("result"))
        if result is not None and result != "SUCCESS":
            raise InvalidPush(f"result {result} is not SUCCESS: the push did not complete")
        repository = _text(detail.get("repository-name"))
        if repository is not None and repository != self._stack.repository:
            raise self._other_repository(repository)
        digest = _text(detail.get("image-digest"))
        if digest is not None and not digest.startswith(DIGEST_PREFIX):
            raise InvalidPush(f"image-digest {digest} is not a sha256: digest")

    # --- a replay ------------------------------------------------------------------------------
    def _replay(self, request: Mapping[str, Any], started_at: str) -> NormalisedPush:
        repository = request.get("repository", self._stack.repository)
        if isinstance(repository, str) and repository != self._stack.repository:
            raise self._other_repository(repository)
        if "digest" not in request and "tag" not in request:
            raise InvalidPush(
                "the replay request has neither a tag nor a digest: give "
                '{"tag": ...} or {"digest": "sha256:..."}'
            )
        digest = _text(request.get("digest"))
        if digest is not None and not digest.startswith(DIGEST_PREFIX):
            raise InvalidPush(f"digest {digest} is not a sha256: digest")
        tag = request.get("tag")
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
            pushed_at=started_at,  # a replay is the operator's newest intent
            image_id=image_id,
        )

    # --- the reasons shared by both kinds --------------------------------------------------------
    def _other_repository(self, repository: str) -> InvalidPush:
        return InvalidPush(
            f"repository {repository} is not {self._stack.repository}, the repository this "
            "stack deploys"
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
