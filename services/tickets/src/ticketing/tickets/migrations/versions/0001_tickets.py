"""tickets"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        ops.uuid_key(),
        ops.required("title", sa.String(200)),
        ops.required("price", ops.MONEY),
        ops.required("user_id", sa.Uuid),
        ops.required("version", sa.Integer),
        sa.Column("order_id", sa.Uuid),
        ops.stamped_now(),
        sa.CheckConstraint("price > 0", name="tickets_price_positive"),
        sa.CheckConstraint("version >= 0", name="tickets_version_not_negative"),
    )
    ops.create_partial_index("tickets_available", "tickets", ["created_at"], "order_id IS NULL")


def downgrade() -> None:
    op.drop_table("tickets")
