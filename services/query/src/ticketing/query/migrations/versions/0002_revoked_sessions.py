"""revoked_sessions: signed-out sessions, refused until their token expires

Revision ID: 0002
Revises: 0001

An infrastructure table (``ticketing.common.db``): a database created after it existed got
it from 0001's ``create_all`` already, hence ``checkfirst``.
"""

from alembic import op

from ticketing.common.db import revoked_sessions

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    revoked_sessions.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    revoked_sessions.drop(op.get_bind(), checkfirst=True)
