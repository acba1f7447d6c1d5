"""cancelled_orders: remember cancelled orders so a late order.created cannot reserve"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.migration_ops import required, uuid_key

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table("cancelled_orders", uuid_key("order_id"), required("ticket_id", sa.Uuid))


def downgrade() -> None:
    op.drop_table("cancelled_orders")
