"""cancelled_orders: remember cancelled orders so a late order.created cannot reserve"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "cancelled_orders", ops.uuid_key("order_id"), ops.required("ticket_id", sa.Uuid)
    )


def downgrade() -> None:
    op.drop_table("cancelled_orders")
