"""refunds_owed: charges to give back, recorded before the refund is attempted"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "refunds_owed",
        sa.Column("intent_id", sa.String(255), primary_key=True),
        ops.required("order_id", sa.Uuid),
        ops.required("reason", sa.String(100)),
        ops.stamped_now("requested_at"),
        sa.Column("refunded_at", ops.TIMESTAMP),
    )
    ops.create_partial_index(
        "refunds_owed_pending", "refunds_owed", ["requested_at"], "refunded_at IS NULL"
    )


def downgrade() -> None:
    op.drop_table("refunds_owed")
