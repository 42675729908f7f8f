"""add customers.phone

Revision ID: c3a8d5e1f7b4
Revises: 9e4f2a6b3c12
Create Date: 2026-03-09 09:12:47.550213
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c3a8d5e1f7b4"
down_revision: str | Sequence[str] | None = "9e4f2a6b3c12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "phone")
