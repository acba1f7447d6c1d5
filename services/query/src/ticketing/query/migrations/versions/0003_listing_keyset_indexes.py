"""listings indexed on (created_at, id), with and without status: the keyset page's order"""

from alembic import op

revision = "0003"  # not 0002: retired (tests/integration/test_migrations.py)
down_revision = "0001"


def upgrade() -> None:
    op.drop_index("listings_status_created", table_name="listings")
    op.create_index("listings_status_created", "listings", ["status", "created_at", "id"])
    op.create_index("listings_created", "listings", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("listings_created", table_name="listings")
    op.drop_index("listings_status_created", table_name="listings")
    op.create_index("listings_status_created", "listings", ["status", "created_at"])
