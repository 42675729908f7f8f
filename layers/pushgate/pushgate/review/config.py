"""The review's settings, read once at cold start: ``SCHEMA_POLICY`` and ``SQUAWK_PATH``, both
required (the template sets them; no silent default), and the version table's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pushgate import settings
from pushgate.environ import required
from pushgate.errors import InvalidRequest
from pushgate.review.reviewer import SchemaReviewer
from pushgate.review.rules import MOOT
from pushgate.review.squawk import Squawk
from pushgate.review.verdicts import POLICIES, Policy
from pushgate.versiontable import VersionTable


def read_policy(environ: Mapping[str, str]) -> Policy:
    """``SCHEMA_POLICY``: enforce or warn; InvalidRequest otherwise."""
    (policy,) = required(environ, [settings.SCHEMA_POLICY])
    if policy not in POLICIES:
        raise InvalidRequest(
            f"{settings.SCHEMA_POLICY} must be one of {', '.join(POLICIES)}, got {policy!r}"
        )
    return policy


def squawk_at(environ: Mapping[str, str]) -> Squawk:
    """``SQUAWK_PATH``: an absolute path (InvalidRequest when not set or relative), squawk run
    without the rules pushgate makes moot. Whether a squawk is there is asked by every review
    (``squawk --version`` first: SchemaReviewFailed when it is missing or not squawk), not at
    cold start: the layer's build traces the cold start where the layer is not mounted."""
    (value,) = required(environ, [settings.SQUAWK_PATH])
    path = Path(value)
    if not path.is_absolute():
        raise InvalidRequest(f"{settings.SQUAWK_PATH} must be an absolute path, got {value!r}")
    return Squawk(path, exclude=sorted(MOOT))


def reviewer_from_env(environ: Mapping[str, str]) -> SchemaReviewer:
    """The function's reviewer; InvalidRequest or SchemaReviewFailed, naming the setting."""
    return SchemaReviewer(squawk_at(environ), read_policy(environ), VersionTable.from_env(environ))
