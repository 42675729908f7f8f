"""The identifier and the tags of the snapshot a run takes before it migrates.

RDS identifiers: 1 to 63 characters for a cluster snapshot (255 for an instance's; the shorter
limit is used for both), ASCII letters, digits and hyphens, a letter first, no two hyphens in a
row, no hyphen last. ``pushgate-<service>-<12 hex of the digest>-<YYYYMMDD>-<HHMMSS>``: the
prefix is what IAM scopes the stack to (``snapshot:pushgate-*``), the service part is cut to fit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from pushgate.errors import InvalidRequest
from pushgate.grammar import DIGEST_PATTERN

PREFIX: Final = "pushgate-"
MAX_LENGTH: Final = 63
DIGEST_CHARACTERS: Final = 12
# the tags every pushgate snapshot carries: MARKER_TAG's value is the stack's <cluster>/<service>
MARKER_TAG: Final = "pushgate:snapshot"
DIGEST_TAG: Final = "pushgate:digest"
EXECUTION_TAG: Final = "pushgate:execution"

_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
_STAMP_LENGTH: Final = len("20250601-120000")


def snapshot_name(service: str, digest: Any, at: datetime) -> str:
    """``pushgate-<service>-<digest prefix>-<UTC time>``, within 63 characters; raises
    InvalidRequest for a digest that is not ``sha256:`` and 64 hex digits."""
    if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
        raise InvalidRequest(f"cannot name a snapshot for digest {digest!r}: not a sha256 digest")
    hexpart = digest.removeprefix("sha256:")[:DIGEST_CHARACTERS]
    stamp = at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    room = MAX_LENGTH - len(PREFIX) - len(hexpart) - _STAMP_LENGTH - 3  # three hyphens
    part = _NOT_ALLOWED.sub("-", service.lower())[:room].strip("-")
    return f"{PREFIX}{part + '-' if part else ''}{hexpart}-{stamp}"


def name_for_run(event: Any) -> str | None:
    """The snapshot name of the run check_database is called for: the event's
    ``{"push": {"digest"}, "snapshot": {"service", "started_at"}}``; None when it has no
    ``snapshot`` (a call that asks for none). Raises InvalidRequest for a malformed one."""
    if not isinstance(event, Mapping) or "snapshot" not in event:
        return None
    wanted, push = event["snapshot"], event.get("push")
    if not isinstance(wanted, Mapping) or not isinstance(push, Mapping):
        raise InvalidRequest("'snapshot' and 'push' must be JSON objects")
    service, started_at = wanted.get("service"), wanted.get("started_at")
    if not isinstance(service, str) or not isinstance(started_at, str):
        raise InvalidRequest("'snapshot' needs 'service' and 'started_at' (strings)")
    try:
        at = datetime.fromisoformat(started_at)
    except ValueError:
        raise InvalidRequest(f"'started_at' {started_at!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InvalidRequest(f"'started_at' {started_at!r} has no time zone")
    return snapshot_name(service, push.get("digest"), at)
