"""tickets"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.migration_ops import (
    MONEY,
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
        required("title", sa.String(200)),
        required("price", MONEY),
        required("user_id", sa.Uuid),
        required("version", sa.Integer),
        sa.Column("order_id", sa.Uuid),
        stamped_now(),
        sa.CheckConstraint("price > 0", name="tickets_price_positive"),
        sa.CheckConstraint("version >= 0", name="tickets_version_not_negative"),
    )
    create_partial_index("tickets_available", "tickets", ["created_at"], "order_id IS NULL")


def downgrade() -> None:
    op.drop_table("tickets")
