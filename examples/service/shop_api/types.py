"""The service's own column types."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class Cents(TypeDecorator[int]):
    """An amount of money in whole cents: a BIGINT that refuses negative amounts on the way in."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        amount = int(value)
        if amount < 0:
            raise ValueError(f"an amount in cents cannot be negative, got {amount}")
        return amount
