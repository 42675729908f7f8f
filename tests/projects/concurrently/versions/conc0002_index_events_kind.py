"""index events.kind concurrently

Revision ID: conc0002
Revises: conc0001
"""

from alembic import op

revision = "conc0002"
down_revision = "conc0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_events_kind", "events", ["kind"], postgresql_concurrently=True, if_not_exists=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_events_kind", "events", postgresql_concurrently=True, if_exists=True)
