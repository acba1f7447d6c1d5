"""payment attempts claimed before Stripe is called, order deadlines, parked refunds"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    # Orders replicated before deadlines were kept are treated as past their deadline.
    op.add_column(
        "orders",
        sa.Column(
            "expires_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.alter_column("orders", "expires_at", server_default=None)
    op.create_table(
        "payment_attempts",
        sa.Column("order_id", sa.Uuid, sa.ForeignKey("orders.id"), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("intent_id", sa.String(255)),
        sa.Column("next_action_url", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column(
        "refunds_owed", sa.Column("attempts", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("refunds_owed", sa.Column("last_error", sa.Text))
    op.add_column("refunds_owed", sa.Column("parked_at", sa.DateTime(timezone=True)))
    op.drop_index("refunds_owed_pending", "refunds_owed")
    op.create_index(
        "refunds_owed_pending",
        "refunds_owed",
        ["requested_at"],
        postgresql_where=sa.text("refunded_at IS NULL AND parked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("refunds_owed_pending", "refunds_owed")
    op.create_index(
        "refunds_owed_pending",
        "refunds_owed",
        ["requested_at"],
        postgresql_where=sa.text("refunded_at IS NULL"),
    )
    for column in ("parked_at", "last_error", "attempts"):
        op.drop_column("refunds_owed", column)
    op.drop_table("payment_attempts")
    op.drop_column("orders", "expires_at")
