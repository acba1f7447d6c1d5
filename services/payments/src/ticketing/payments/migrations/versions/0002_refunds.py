"""refunds_owed: charges to give back, recorded before the refund is attempted"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "refunds_owed",
        sa.Column("intent_id", sa.String(255), primary_key=True),
        sa.Column("order_id", sa.Uuid, nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("refunded_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "refunds_owed_pending",
        "refunds_owed",
        ["requested_at"],
        postgresql_where=sa.text("refunded_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("refunds_owed")
