"""read model: listings, orders, payments, users"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.migration_ops import MONEY, TIMESTAMP, required, uuid_key

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "listings",
        uuid_key(),
        required("title", sa.Text),
        required("price", MONEY),
        required("user_id", sa.Uuid),
        required("version", sa.Integer),
        sa.Column("order_id", sa.Uuid),
        required("status", sa.String(20)),
        required("created_at", TIMESTAMP),
        required("ticket_changed_at", TIMESTAMP),
        required("updated_at", TIMESTAMP),
        sa.CheckConstraint(
            "status IN ('available', 'reserved', 'sold')", name="listings_status_known"
        ),
    )
    op.create_index("listings_status_created", "listings", ["status", "created_at"])
    op.create_table(
        "orders",
        uuid_key(),
        required("user_id", sa.Uuid),
        required("status", sa.String(20)),
        required("expires_at", TIMESTAMP),
        required("version", sa.Integer),
        required("ticket_id", sa.Uuid),
        required("ticket_price", MONEY),
        required("created_at", TIMESTAMP),
        required("changed_at", TIMESTAMP),
    )
    op.create_index("orders_user_created", "orders", ["user_id", "created_at"])
    op.create_index("orders_ticket", "orders", ["ticket_id"])
    op.create_table(
        "payments",
        uuid_key(),
        required("order_id", sa.Uuid, unique=True),
        required("stripe_id", sa.String(255)),
        required("created_at", TIMESTAMP),
    )
    op.create_table(
        "users",
        uuid_key(),
        required("email", sa.String(320)),
    )


def downgrade() -> None:
    for table in ("users", "payments", "orders", "listings"):
        op.drop_table(table)
