"""payments: refunds owed for orders cancelled after their payment was recorded

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("refund_requested_at", sa.DateTime(timezone=True)))
    op.add_column("payments", sa.Column("refunded_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("payments", "refunded_at")
    op.drop_column("payments", "refund_requested_at")
