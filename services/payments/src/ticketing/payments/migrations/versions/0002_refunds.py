"""refunds_owed: charges to give back, recorded before the refund is attempted"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.migration_ops import TIMESTAMP, create_partial_index, required, stamped_now

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "refunds_owed",
        sa.Column("intent_id", sa.String(255), primary_key=True),
        required("order_id", sa.Uuid),
        required("reason", sa.String(100)),
        stamped_now("requested_at"),
        sa.Column("refunded_at", TIMESTAMP),
    )
    create_partial_index(
        "refunds_owed_pending", "refunds_owed", ["requested_at"], "refunded_at IS NULL"
    )


def downgrade() -> None:
    op.drop_table("refunds_owed")
