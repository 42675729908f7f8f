"""create orders

Revision ID: 8b2e4d6f1a03
Revises: 3f1c9a2b7d10
Create Date: 2025-02-03 15:40:27.508316
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "8b2e4d6f1a03"
down_revision: str | Sequence[str] | None = "3f1c9a2b7d10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

order_status = postgresql.ENUM(
    "pending", "paid", "shipped", "cancelled", name="order_status", create_type=False
)


def upgrade() -> None:
    order_status.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status", order_status, server_default="pending", nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), server_default="EUR", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint("total_cents >= 0", name="ck_orders_total_cents_non_negative"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_orders_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
    )
    op.create_index("ix_orders_user_id_created_at", "orders", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_user_id_created_at", table_name="orders")
    op.drop_table("orders")
    order_status.drop(op.get_bind(), checkfirst=False)
