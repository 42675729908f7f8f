"""The grammar of what a push names: repository, tag, digest, account, region and time.

Each rule is the documented one, cited where it is defined, so that the state machine refuses
what ECR, Docker or RFC 3339 would refuse before anything is touched. `shown` quotes a value
for a reason's text, bounded, because a reason travels in the execution's state and alerts.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

# ECR's RepositoryName: 2..256 characters of this pattern (botocore's ecr service-2.json,
# the ECR API Reference, "Image": repositoryName, "Length Constraints: Minimum length of 2.
# Maximum length of 256.", pattern [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+(...)*)*).
REPOSITORY_MIN_LENGTH: Final = 2
REPOSITORY_MAX_LENGTH: Final = 256
_COMPONENT: Final = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_PATTERN: Final = re.compile(
    rf"(?=.{{{REPOSITORY_MIN_LENGTH},{REPOSITORY_MAX_LENGTH}}}\Z){_COMPONENT}(?:/{_COMPONENT})*\Z"
)
# An image digest as ECS pins it: "sha256:" and 64 lowercase hex digits (ECR reports digests so).
DIGEST_PATTERN: Final = re.compile(r"sha256:[0-9a-f]{64}\Z")
# An AWS account id (ECR's RegistryId pattern [0-9]{12}).
ACCOUNT_PATTERN: Final = re.compile(r"[0-9]{12}\Z")
REGION_PATTERN: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+\Z")

# Tags: the characters of Docker's tag grammar ([A-Za-z0-9_][A-Za-z0-9_.-]*, distribution's
# reference grammar), at most as long as ECR allows: the ECR API Reference, "ImageIdentifier":
# imageTag "Length Constraints: Minimum length of 1. Maximum length of 300."
TAG_MAX_LENGTH: Final = 300
TAG_CHARACTERS: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")

# RFC 3339 section 5.6 date-time: full-date "T" full-time, time-offset Z or +hh:mm / -hh:mm
# ("T" and "Z" may be lower case, section 5.6's note).
_RFC3339: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))\Z"
)
SHOWN_MAX: Final = 100  # characters of a value a reason quotes (a digest is 71)


def tag_problem(tag: str, field: str = "tag") -> str | None:
    """Why `tag` (the input's `field`) is no tag ECR and Docker accept, or None if it is one."""
    if not tag:
        return f"{field} is empty: a tag has at least one character"
    if len(tag) > TAG_MAX_LENGTH:
        return f"{field} is {len(tag)} characters long, more than the {TAG_MAX_LENGTH} ECR allows"
    if not TAG_CHARACTERS.match(tag):
        return (
            f"{field} {shown(tag)} is not a Docker tag: letters, digits, _ . and - only, not "
            "starting with . or -"
        )
    return None


def is_repository_name(value: str) -> bool:
    """Whether `value` is a repository name ECR accepts (its pattern and length)."""
    return REPOSITORY_PATTERN.match(value) is not None


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 date-time as an aware datetime (fractions beyond microseconds dropped), or
    None when `text` is not one or names no real instant (Feb 30, hour 24, a leap second)."""
    found = _RFC3339.match(text)
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    fraction = (found.group(7) or ".0")[1:7].ljust(6, "0")
    try:
        offset = timedelta(0)
        if found.group(8) is None:
            hours, minutes = int(found.group(10)), int(found.group(11))
            if minutes > 59:
                return None
            offset = timedelta(hours=hours, minutes=minutes)
            offset = -offset if found.group(9) == "-" else offset
        zone = timezone(offset)
        moment = datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=zone)
        moment.astimezone(UTC)  # an instant before year 1 or after 9999 in UTC: OverflowError
    except (ValueError, OverflowError):
        return None
    return moment


def canonical_time(moment: datetime) -> str:
    """The one form pushgate stores a time in: UTC, microseconds, "Z", fixed width
    (``2025-06-01T12:00:00.123000Z``), so that comparing two as strings orders them in time."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def shown(value: str) -> str:
    """`value` as a reason quotes it: as is when short and printable, else JSON-escaped and cut
    to its first characters with its length, so a reason stays small and on one line."""
    if len(value) <= SHOWN_MAX and value.isprintable() and value.strip() == value and value:
        return value
    quoted = json.dumps(value[:SHOWN_MAX])
    return quoted if len(value) <= SHOWN_MAX else f"{quoted}... ({len(value)} characters)"
