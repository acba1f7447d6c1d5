"""tickets_available on (created_at, id): the keyset listing's order, newest first"""

import sqlalchemy as sa
from alembic import op

revision = "0004"  # not 0003: retired (tests/integration/test_migrations.py)
down_revision = "0002"

AVAILABLE = sa.text("order_id IS NULL")


def upgrade() -> None:
    op.drop_index("tickets_available", table_name="tickets")
    op.create_index(
        "tickets_available", "tickets", ["created_at", "id"], postgresql_where=AVAILABLE
    )


def downgrade() -> None:
    op.drop_index("tickets_available", table_name="tickets")
    op.create_index("tickets_available", "tickets", ["created_at"], postgresql_where=AVAILABLE)
