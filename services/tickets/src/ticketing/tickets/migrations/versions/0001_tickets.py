"""tickets"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("price", sa.Numeric(10, 2), nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("order_id", sa.Uuid),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("price > 0", name="tickets_price_positive"),
        sa.CheckConstraint("version >= 0", name="tickets_version_not_negative"),
    )
    op.create_index(
        "tickets_available",
        "tickets",
        ["created_at"],
        postgresql_where=sa.text("order_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("tickets")
