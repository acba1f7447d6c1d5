"""replicated orders and payments"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "orders",
        ops.uuid_key(),
        ops.required("user_id", sa.Uuid),
        ops.required("status", sa.String(20)),
        ops.required("price", ops.MONEY),
        ops.required("version", sa.Integer),
    )
    op.create_table(
        "payments",
        ops.uuid_key(),
        ops.required("order_id", sa.Uuid, sa.ForeignKey("orders.id"), unique=True),
        ops.required("stripe_id", sa.String(255), unique=True),
        ops.stamped_now(),
    )


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_table("orders")
