"""read model: listings, orders, payments, users"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

TIMESTAMP = sa.DateTime(timezone=True)
MONEY = sa.Numeric(10, 2)


def upgrade() -> None:
    op.create_table(
        "listings",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("order_id", sa.Uuid),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("ticket_changed_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('available', 'reserved', 'sold')", name="listings_status_known"
        ),
    )
    op.create_index("listings_status_created", "listings", ["status", "created_at"])
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("ticket_id", sa.Uuid, nullable=False),
        sa.Column("ticket_price", MONEY, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
    )
    op.create_index("orders_user_created", "orders", ["user_id", "created_at"])
    op.create_index("orders_ticket", "orders", ["ticket_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("order_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("stripe_id", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
    )


def downgrade() -> None:
    for table in ("users", "payments", "orders", "listings"):
        op.drop_table(table)
