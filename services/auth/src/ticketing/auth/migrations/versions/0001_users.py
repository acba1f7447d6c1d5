"""users, plus the infrastructure tables every service has

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.db import infrastructure

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    infrastructure.create_all(op.get_bind())
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("banned_at", sa.DateTime(timezone=True)),
    )
    op.create_index("users_email_lower_key", "users", [sa.text("lower(email)")], unique=True)


def downgrade() -> None:
    op.drop_table("users")
    infrastructure.drop_all(op.get_bind())
