"""The outbox row keeps where its event came from: the request id and W3C ``traceparent`` of
the transaction that wrote it, which the relay sends on as NATS headers (DESIGN §10).

Both nullable: rows written before this revision, or outside any request, have none.
Idempotent like the first revision (``IF NOT EXISTS``).
"""

from alembic import op

revision = "infrastructure_0002"
down_revision = "infrastructure_0001"
branch_labels = None

COLUMNS = {"request_id": "VARCHAR(128)", "traceparent": "VARCHAR(64)"}


def upgrade() -> None:
    for column, kind in COLUMNS.items():
        op.execute(f"ALTER TABLE outbox ADD COLUMN IF NOT EXISTS {column} {kind}")


def downgrade() -> None:
    for column in COLUMNS:
        op.execute(f"ALTER TABLE outbox DROP COLUMN IF EXISTS {column}")
