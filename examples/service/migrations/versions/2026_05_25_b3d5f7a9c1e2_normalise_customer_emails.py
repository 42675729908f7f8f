"""normalise customers' e-mail addresses (a data migration through the service's models)

Revision ID: b3d5f7a9c1e2
Revises: a1c4e6f8b2d0
Create Date: 2026-05-25 16:40:02.551907
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from shop_api.models import Customer
from sqlalchemy import select
from sqlalchemy.orm import Session

# revision identifiers, used by Alembic.
revision: str = "b3d5f7a9c1e2"
down_revision: str | Sequence[str] | None = "a1c4e6f8b2d0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the migration's own connection and transaction: the session flushes, alembic commits
    session = Session(bind=op.get_bind())
    for customer in session.scalars(select(Customer)):
        customer.email = customer.email.strip().lower()
    session.flush()


def downgrade() -> None:
    pass  # the addresses' old spelling is not kept: nothing to put back
