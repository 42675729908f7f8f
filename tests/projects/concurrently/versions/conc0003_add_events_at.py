"""add events.at

Revision ID: conc0003
Revises: conc0002
"""

import sqlalchemy as sa
from alembic import op

revision = "conc0003"
down_revision = "conc0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("events", "at")
