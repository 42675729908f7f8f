"""`pushgate rehearse --ledger FILE`: the rehearsed deploy ledger kept between rehearsals.

Each rehearsal starts a fresh emulated account, so the deploy ledger (template.yaml's
DeployLedger, which every environment's stack writes on success and reads for
RequirePromotionFrom) would start empty every time. With ``--ledger FILE`` it is loaded from the
file before the run and written back after it: a JSON array of the table's items in DynamoDB's
own JSON (``{"environment": {"S": "beta"}, "digest": {"S": "sha256:..."}, ...}``), so one
environment's rehearsed deploy is seen by the next environment's rehearsal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

KEY = ("environment", "digest")  # template.yaml's DeployLedger KeySchema (HASH, RANGE)


class LedgerFileError(Exception):
    """The --ledger file cannot be read or written, or is not a dump of a deploy ledger."""


def read_items(path: Path) -> list[dict[str, Any]]:
    """The items of a ledger file; none for a file that does not exist yet."""
    if not path.exists():
        return []
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerFileError(f"cannot read --ledger {path}: {exc}") from None
    except ValueError as exc:
        raise LedgerFileError(f"--ledger {path} is not JSON: {exc}") from None
    if not isinstance(items, list) or not all(_is_item(item) for item in items):
        raise LedgerFileError(
            f"--ledger {path} is not a deploy ledger: a JSON array of DynamoDB items, each with "
            'string attributes "environment" and "digest" ({"S": "..."}), as a rehearsal writes'
        )
    return items


def _is_item(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    return all(
        isinstance(item.get(key), dict) and isinstance(item[key].get("S"), str) and item[key]["S"]
        for key in KEY
    ) and all(isinstance(value, dict) and len(value) == 1 for value in item.values())


def load(path: Path, table: str, region: str) -> int:
    """Put the file's items into the (emulated) table; returns how many."""
    items = read_items(path)
    dynamodb = boto3.client("dynamodb", region_name=region)
    for item in items:
        dynamodb.put_item(TableName=table, Item=item)
    return len(items)


def dump(path: Path, table: str, region: str) -> int:
    """Write every item of the table to the file (sorted by key); returns how many."""
    dynamodb = boto3.client("dynamodb", region_name=region)
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    items.sort(key=lambda item: tuple(item[key]["S"] for key in KEY))
    try:
        path.write_text(json.dumps(items, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise LedgerFileError(f"cannot write --ledger {path}: {exc.strerror or exc}") from None
    return len(items)
