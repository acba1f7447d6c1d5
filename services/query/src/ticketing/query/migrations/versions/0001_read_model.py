"""read model: listings, orders, payments, users"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "listings",
        ops.uuid_key(),
        ops.required("title", sa.Text),
        ops.required("price", ops.MONEY),
        ops.required("user_id", sa.Uuid),
        ops.required("version", sa.Integer),
        sa.Column("order_id", sa.Uuid),
        ops.required("status", sa.String(20)),
        ops.required("created_at", ops.TIMESTAMP),
        ops.required("ticket_changed_at", ops.TIMESTAMP),
        ops.required("updated_at", ops.TIMESTAMP),
        sa.CheckConstraint(
            "status IN ('available', 'reserved', 'sold')", name="listings_status_known"
        ),
    )
    op.create_index("listings_status_created", "listings", ["status", "created_at"])
    op.create_table(
        "orders",
        ops.uuid_key(),
        ops.required("user_id", sa.Uuid),
        ops.required("status", sa.String(20)),
        ops.required("expires_at", ops.TIMESTAMP),
        ops.required("version", sa.Integer),
        ops.required("ticket_id", sa.Uuid),
        ops.required("ticket_price", ops.MONEY),
        ops.required("created_at", ops.TIMESTAMP),
        ops.required("changed_at", ops.TIMESTAMP),
    )
    op.create_index("orders_user_created", "orders", ["user_id", "created_at"])
    op.create_index("orders_ticket", "orders", ["ticket_id"])
    op.create_table(
        "payments",
        ops.uuid_key(),
        ops.required("order_id", sa.Uuid, unique=True),
        ops.required("stripe_id", sa.String(255)),
        ops.required("created_at", ops.TIMESTAMP),
    )
    op.create_table(
        "users",
        ops.uuid_key(),
        ops.required("email", sa.String(320)),
    )


def downgrade() -> None:
    for table in ("users", "payments", "orders", "listings"):
        op.drop_table(table)
