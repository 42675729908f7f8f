"""create events

Revision ID: conc0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "conc0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(50), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("events")
