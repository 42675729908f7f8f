"""add orders.refunded_cents, in the service's own Cents type

It imports the service's code (shop_api.types): the Lambda runner refuses it; the task runner
runs it in the service's image.

Revision ID: a1c4e6f8b2d0
Revises: e7b2f9a4d6c8
Create Date: 2026-05-11 09:12:44.120311
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from shop_api.types import Cents

# revision identifiers, used by Alembic.
revision: str = "a1c4e6f8b2d0"
down_revision: str | Sequence[str] | None = "e7b2f9a4d6c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "orders", sa.Column("refunded_cents", Cents(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("orders", "refunded_cents")
