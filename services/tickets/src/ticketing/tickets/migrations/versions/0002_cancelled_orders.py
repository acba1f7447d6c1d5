"""cancelled_orders: remember cancelled orders so a late order.created cannot reserve"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "cancelled_orders",
        sa.Column("order_id", sa.Uuid, primary_key=True),
        sa.Column("ticket_id", sa.Uuid, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cancelled_orders")
