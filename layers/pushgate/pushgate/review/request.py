"""What a ``review_schema`` invocation asks: review the revisions from ``from_revision`` to head
of the scripts ``run_migrations`` would run (the same ``image`` in the event, or the bundled)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushgate.errors import InvalidRequest
from pushgate.migrator import MigrationRequest


def _optional_text(event: Mapping[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InvalidRequest(f"{name} must be a non-empty string or null, got {value!r}"[:300])
    return value.strip() if isinstance(value, str) else None


@dataclass(frozen=True)
class ReviewRequest:
    """A parsed ``review_schema`` event."""

    from_revision: str | None  # the database's revision ("Check database"); None: base
    server_version: str | None  # PostgreSQL's server_version, for squawk's --pg-version
    scripts: MigrationRequest  # whose scripts: the upgrade to head run_migrations is asked for

    @classmethod
    def from_event(cls, event: Any) -> ReviewRequest:
        """``{"from_revision": str|null, "server_version"?: str|null, "image"?: {"registry",
        "repository", "digest", "platform"?}}``; raises InvalidRequest. ``from_revision`` is
        required (null: base): a review from base by accident would judge every revision."""
        if not isinstance(event, Mapping) or "from_revision" not in event:
            raise InvalidRequest("the event must be a JSON object with 'from_revision' (or null)")
        extra = sorted(set(event) - {"from_revision", "server_version", "image"})
        if extra:
            raise InvalidRequest(f"unknown field(s) {', '.join(extra)}"[:300])
        image = {"image": event["image"]} if event.get("image") is not None else {}
        return cls(
            from_revision=_optional_text(event, "from_revision"),
            server_version=_optional_text(event, "server_version"),
            scripts=MigrationRequest.from_event({"action": "upgrade", "target": "head", **image}),
        )
