"""orders and replicated tickets"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("price", sa.Numeric(10, 2), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("ticket_id", sa.Uuid, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "status IN ('created', 'cancelled', 'awaiting:payment', 'complete')",
            name="orders_status_known",
        ),
    )
    # The guarantee that two buyers never hold one ticket: one live order per ticket.
    op.create_index(
        "orders_one_live_order_per_ticket",
        "orders",
        ["ticket_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_index("orders_user_id", "orders", ["user_id"])
    op.create_index(
        "orders_created_expiry",
        "orders",
        ["expires_at"],
        postgresql_where=sa.text("status = 'created'"),
    )


def downgrade() -> None:
    op.drop_table("orders")
    op.drop_table("tickets")
