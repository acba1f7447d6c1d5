"""replicated users, tickets, orders and payments; the sent-mail log"""

import sqlalchemy as sa
from alembic import op

from ticketing.common import migration_ops as ops

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("users", ops.uuid_key(), ops.required("email", sa.Text))
    op.create_table(
        "tickets",
        ops.uuid_key(),
        ops.required("title", sa.Text),
        ops.required("seller_id", sa.Uuid),
        ops.required("version", sa.Integer),
    )
    op.create_table(
        "orders",
        ops.uuid_key(),
        *(ops.required(name, sa.Uuid) for name in ("buyer_id", "ticket_id")),
        ops.required("price", ops.MONEY),
        ops.required("expires_at", ops.TIMESTAMP),
        ops.required("status", sa.String(20)),
        ops.required("version", sa.Integer),
    )
    op.create_table(
        "payments",
        ops.uuid_key("order_id"),
        ops.required("id", sa.Uuid),
        ops.required("stripe_id", sa.String(255)),
    )
    _create_sent_mail()


def _create_sent_mail() -> None:
    op.create_table(
        "sent_mail",
        ops.uuid_key(),
        ops.required("event_id", sa.Uuid),
        ops.required("recipient", sa.Text),
        ops.required("user_id", sa.Uuid),
        ops.required("template", sa.String(50)),
        ops.required("message_id", sa.String(255), unique=True),
        *(ops.required(name, sa.Text) for name in ("subject", "text_body", "html_body")),
        ops.required("status", sa.String(20)),
        ops.required("attempts", sa.Integer),
        sa.Column("last_error", sa.Text),
        ops.stamped_now(),
        ops.stamped_now("next_attempt_at"),
        *(sa.Column(name, ops.TIMESTAMP) for name in ("attempted_at", "finished_at")),
        sa.UniqueConstraint("event_id", "recipient", name="sent_mail_one_per_event_recipient"),
    )
    ops.create_partial_index(
        "sent_mail_due", "sent_mail", ["next_attempt_at"], "status = 'pending'"
    )


def downgrade() -> None:
    for table in ("sent_mail", "payments", "orders", "tickets", "users"):
        op.drop_table(table)
