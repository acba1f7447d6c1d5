"""sign_in_attempts: failed sign-ins per email key and client address, for throttling"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        ops.required("email_key", sa.String(320)),
        ops.required("client", sa.String(64)),
        ops.stamped_now("attempted_at"),
    )
    op.create_index("sign_in_attempts_by_email", "sign_in_attempts", ["email_key", "attempted_at"])
    op.create_index("sign_in_attempts_by_client", "sign_in_attempts", ["client", "attempted_at"])
    op.create_index("sign_in_attempts_attempted_at", "sign_in_attempts", ["attempted_at"])


def downgrade() -> None:
    op.drop_table("sign_in_attempts")
