"""tickets.user_id: the seller of each replicated ticket, for "Cannot buy your own ticket"

Nullable on purpose: rows replicated before this revision do not know their seller. A seller
never changes, so the next event of such a ticket (any version, see ``listeners``) fills it
in; until then the own-ticket and banned-seller checks let the order through.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("tickets", sa.Column("user_id", sa.Uuid, nullable=True))


def downgrade() -> None:
    op.drop_column("tickets", "user_id")
