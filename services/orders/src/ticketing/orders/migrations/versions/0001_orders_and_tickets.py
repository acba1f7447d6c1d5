"""orders and replicated tickets"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        ops.uuid_key(),
        ops.required("title", sa.Text),
        ops.required("price", ops.MONEY),
        ops.required("version", sa.Integer),
    )
    op.create_table(
        "orders",
        ops.uuid_key(),
        ops.required("user_id", sa.Uuid),
        ops.required("ticket_id", sa.Uuid, sa.ForeignKey("tickets.id")),
        ops.required("status", sa.String(32)),
        ops.required("expires_at", ops.TIMESTAMP),
        ops.required("version", sa.Integer),
        ops.stamped_now(),
        sa.CheckConstraint(
            "status IN ('created', 'cancelled', 'awaiting:payment', 'complete')",
            name="orders_status_known",
        ),
    )
    # The guarantee that two buyers never hold one ticket: one live order per ticket.
    ops.create_partial_index(
        "orders_one_live_order_per_ticket",
        "orders",
        ["ticket_id"],
        "status <> 'cancelled'",
        unique=True,
    )
    op.create_index("orders_user_id", "orders", ["user_id"])
    ops.create_partial_index(
        "orders_created_expiry", "orders", ["expires_at"], "status = 'created'"
    )


def downgrade() -> None:
    op.drop_table("orders")
    op.drop_table("tickets")
