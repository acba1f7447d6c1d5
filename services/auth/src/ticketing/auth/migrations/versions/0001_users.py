"""users"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.migration_ops import required, stamped_now, uuid_key

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "users",
        uuid_key(),
        required("email", sa.String(320)),
        required("password_hash", sa.String(255)),
        stamped_now(),
        sa.Column("banned_at", sa.DateTime(timezone=True)),
    )
    op.create_index("users_email_lower_key", "users", [sa.text("lower(email)")], unique=True)


def downgrade() -> None:
    op.drop_table("users")
