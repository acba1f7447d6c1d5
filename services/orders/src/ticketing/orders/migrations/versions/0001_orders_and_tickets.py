"""orders and replicated tickets"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.migration_ops import (
    MONEY,
    TIMESTAMP,
    create_partial_index,
    required,
    stamped_now,
    uuid_key,
)

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        uuid_key(),
        required("title", sa.Text),
        required("price", MONEY),
        required("version", sa.Integer),
    )
    op.create_table(
        "orders",
        uuid_key(),
        required("user_id", sa.Uuid),
        required("ticket_id", sa.Uuid, sa.ForeignKey("tickets.id")),
        required("status", sa.String(32)),
        required("expires_at", TIMESTAMP),
        required("version", sa.Integer),
        stamped_now(),
        sa.CheckConstraint(
            "status IN ('created', 'cancelled', 'awaiting:payment', 'complete')",
            name="orders_status_known",
        ),
    )
    # The guarantee that two buyers never hold one ticket: one live order per ticket.
    create_partial_index(
        "orders_one_live_order_per_ticket",
        "orders",
        ["ticket_id"],
        "status <> 'cancelled'",
        unique=True,
    )
    op.create_index("orders_user_id", "orders", ["user_id"])
    create_partial_index("orders_created_expiry", "orders", ["expires_at"], "status = 'created'")


def downgrade() -> None:
    op.drop_table("orders")
    op.drop_table("tickets")
