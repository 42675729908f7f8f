"""The push a run deploys: what the execution input says, checked and normalised.

The shapes: `DescribeRequest` (what the "Describe the push" state sends `describe_push`: the
execution input and the execution's start time), `NormalisedPush` (the one shape every later
state reads), `Stack` (the repository, account and region the stack deploys from) and
`PushedImage` (the image once its digest is known: what `prepare_rollout` pins). The rules that
turn an input into a `NormalisedPush` or an `InvalidPush` are `pushgate.push_rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict

from pushgate import settings
from pushgate.errors import InvalidRequest
from pushgate.grammar import (
    ACCOUNT_PATTERN,
    DIGEST_PATTERN,
    REGION_PATTERN,
    REPOSITORY_PATTERN,
    parse_time,
)


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
    started_at: datetime

    @classmethod
    def from_event(cls, event: Any) -> DescribeRequest:
        """InvalidRequest when the state machine did not call it as the contract says."""
        if not isinstance(event, Mapping) or "input" not in event:
            raise InvalidRequest("the event must be a JSON object with the execution's 'input'")
        raw = event.get("started_at")
        started_at = parse_time(raw) if isinstance(raw, str) else None
        if started_at is None:
            raise InvalidRequest(
                "'started_at' (the execution's start time) must be an RFC 3339 date-time"
            )
        return cls(input=event["input"], started_at=started_at)
