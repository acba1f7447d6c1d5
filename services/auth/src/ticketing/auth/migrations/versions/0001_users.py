"""users"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "users",
        ops.uuid_key(),
        ops.required("email", sa.String(320)),
        ops.required("password_hash", sa.String(255)),
        ops.stamped_now(),
        sa.Column("banned_at", sa.DateTime(timezone=True)),
    )
    op.create_index("users_email_lower_key", "users", [sa.text("lower(email)")], unique=True)


def downgrade() -> None:
    op.drop_table("users")
