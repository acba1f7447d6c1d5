"""replicated users, tickets, orders and payments; the sent-mail log"""

import sqlalchemy as sa
from alembic import op

from ticketing.common.migration_ops import (
    MONEY,
    TIMESTAMP,
    create_partial_index,
    required,
    stamped_now,
    uuid_key,
)

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("users", uuid_key(), required("email", sa.Text))
    op.create_table(
        "tickets",
        uuid_key(),
        required("title", sa.Text),
        required("seller_id", sa.Uuid),
        required("version", sa.Integer),
    )
    op.create_table(
        "orders",
        uuid_key(),
        *(required(name, sa.Uuid) for name in ("buyer_id", "ticket_id")),
        required("price", MONEY),
        required("expires_at", TIMESTAMP),
        required("status", sa.String(20)),
        required("version", sa.Integer),
    )
    op.create_table(
        "payments",
        uuid_key("order_id"),
        required("id", sa.Uuid),
        required("stripe_id", sa.String(255)),
    )
    _create_sent_mail()


def _create_sent_mail() -> None:
    op.create_table(
        "sent_mail",
        uuid_key(),
        required("event_id", sa.Uuid),
        required("recipient", sa.Text),
        required("user_id", sa.Uuid),
        required("template", sa.String(50)),
        required("message_id", sa.String(255), unique=True),
        *(required(name, sa.Text) for name in ("subject", "text_body", "html_body")),
        required("status", sa.String(20)),
        required("attempts", sa.Integer),
        sa.Column("last_error", sa.Text),
        stamped_now(),
        stamped_now("next_attempt_at"),
        *(sa.Column(name, TIMESTAMP) for name in ("attempted_at", "finished_at")),
        sa.UniqueConstraint("event_id", "recipient", name="sent_mail_one_per_event_recipient"),
    )
    create_partial_index("sent_mail_due", "sent_mail", ["next_attempt_at"], "status = 'pending'")


def downgrade() -> None:
    for table in ("sent_mail", "payments", "orders", "tickets", "users"):
        op.drop_table(table)
