"""index orders by customer, concurrently

CREATE INDEX CONCURRENTLY cannot run inside a transaction: the statement runs in an
autocommit block, so writes to orders are not blocked while the index builds.

Revision ID: e7b2f9a4d6c8
Revises: c3a8d5e1f7b4
Create Date: 2026-04-20 14:30:05.004581
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e7b2f9a4d6c8"
down_revision: str | Sequence[str] | None = "c3a8d5e1f7b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_orders_customer_id",
            "orders",
            ["customer_id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_orders_customer_id",
            table_name="orders",
            postgresql_concurrently=True,
            if_exists=True,
        )
