"""replicated orders and payments"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.migration_ops import MONEY, required, stamped_now, uuid_key

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "orders",
        uuid_key(),
        required("user_id", sa.Uuid),
        required("status", sa.String(20)),
        required("price", MONEY),
        required("version", sa.Integer),
    )
    op.create_table(
        "payments",
        uuid_key(),
        required("order_id", sa.Uuid, sa.ForeignKey("orders.id"), unique=True),
        required("stripe_id", sa.String(255), unique=True),
        stamped_now(),
    )


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_table("orders")
