"""The event fields of the steps only some runs take (issue 12), for `pushgate.outcome`: the
snapshot before the migration, the promotion check and the deploy ledger's write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SNAPSHOT_FIELDS = ("kind", "id", "arn", "status", "created_at", "source")
PROMOTED_FIELDS = ("environment", "revision", "deployed_at", "execution")


def snapshot_field(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot as every later event names it (for a restore from the alert)."""
    return {key: snapshot.get(key) for key in SNAPSHOT_FIELDS if key in snapshot}


def promoted_field(promotion: Mapping[str, Any]) -> dict[str, Any] | None:
    """The lower environment's ledger record that let the digest through; None for none."""
    item = promotion.get("Item")
    if not isinstance(item, Mapping):
        return None
    record = {
        key: value.get("S")
        for key, value in item.items()
        if isinstance(value, Mapping) and isinstance(value.get("S"), str)
    }
    return {key: record.get(key) for key in PROMOTED_FIELDS}


def ledger_error_field(error: Any, cause: Any, environment: Any) -> dict[str, Any]:
    """A success whose ledger write failed: what failed, and what that means for promotion."""
    return {
        "error": error,
        "cause": cause,
        "consequence": f"the deploy ledger has no record of this deploy in {environment}: an "
        "environment that requires promotion from it rejects this digest until a replay here "
        "succeeds and is recorded",
    }


def database_lock_error_field(error: Any, cause: Any) -> dict[str, Any]:
    """A run whose database lock could not be released: what failed, and what that means."""
    return {
        "error": error,
        "cause": cause,
        "consequence": "this run's row in pushgate_deploy_lock stays until a later run on "
        "this database finds this execution no longer RUNNING and takes the lock over",
    }


def not_promoted_reason(environment: Any, lower: Any, digest: Any) -> str:
    """The promotion check found no ledger record of the digest in the lower environment."""
    return (
        f"{environment} deploys only what {lower} deployed first, and the deploy ledger has no "
        f"successful {lower} deploy of {digest}: deploy it to {lower}, then replay it here"
    )
