"""replicated orders and payments, plus the infrastructure tables every service has

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.db import infrastructure

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    infrastructure.create_all(op.get_bind())
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("price", sa.Numeric(10, 2), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("order_id", sa.Uuid, sa.ForeignKey("orders.id"), nullable=False, unique=True),
        sa.Column("stripe_id", sa.String(255), nullable=False, unique=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_table("orders")
    infrastructure.drop_all(op.get_bind())
