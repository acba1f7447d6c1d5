"""payment attempts claimed before Stripe is called, order deadlines, parked refunds"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0003"
down_revision = "0002"

PENDING_BEFORE = "refunded_at IS NULL"
PENDING_AFTER = "refunded_at IS NULL AND parked_at IS NULL"


def upgrade() -> None:
    # Orders replicated before deadlines were kept are treated as past their deadline.
    op.add_column("orders", ops.stamped_now("expires_at"))
    op.alter_column("orders", "expires_at", server_default=None)
    op.create_table(
        "payment_attempts",
        ops.uuid_key("order_id", sa.ForeignKey("orders.id")),
        ops.required("number", sa.Integer),
        ops.required("status", sa.String(20)),
        sa.Column("intent_id", sa.String(255)),
        sa.Column("next_action_url", sa.Text),
        sa.Column("last_error", sa.Text),
        ops.required("claimed_at", ops.TIMESTAMP),
    )
    op.add_column("refunds_owed", ops.required("attempts", sa.Integer, server_default="0"))
    op.add_column("refunds_owed", sa.Column("last_error", sa.Text))
    op.add_column("refunds_owed", sa.Column("parked_at", ops.TIMESTAMP))
    _pending_refunds_index(PENDING_AFTER)


def downgrade() -> None:
    _pending_refunds_index(PENDING_BEFORE)
    for column in ("parked_at", "last_error", "attempts"):
        op.drop_column("refunds_owed", column)
    op.drop_table("payment_attempts")
    op.drop_column("orders", "expires_at")


def _pending_refunds_index(where: str) -> None:
    op.drop_index("refunds_owed_pending", "refunds_owed")
    ops.create_partial_index("refunds_owed_pending", "refunds_owed", ["requested_at"], where)
