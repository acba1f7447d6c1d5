"""idempotency keys are claimed (no answer yet) before the request's side effects

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("idempotency_keys", "status_code", nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE status_code IS NULL")
    op.alter_column("idempotency_keys", "status_code", nullable=False)
