"""users.email_key: emails unique after NFKC + case folding, not only lower case

Existing users get their key computed here (the same rule as ``domain.email_key``, copied so
this revision never changes). If two existing accounts share a key (``alice@example.com`` in
full-width letters next to ``alice@example.com``), the migration refuses, naming them, and
changes nothing: which account keeps the address is an operator's decision, not a
migration's. Change the other accounts' ``email`` (or delete them) and start auth again.
"""

import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def _email_key(email: str) -> str:
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def upgrade() -> None:
    bind = op.get_bind()
    users = bind.execute(sa.text("SELECT id, email FROM users ORDER BY created_at, id")).all()
    by_key: dict[str, list[str]] = defaultdict(list)
    for user_id, email in users:
        by_key[_email_key(email)].append(f"{email} ({user_id})")
    collisions = {key: same for key, same in by_key.items() if len(same) > 1}
    if collisions:
        listed = "; ".join(f"{key}: {', '.join(same)}" for key, same in collisions.items())
        raise RuntimeError(
            f"Cannot make emails unique after NFKC + case folding: {len(collisions)} "
            f"addresses belong to several accounts (oldest first): {listed}. Give all but one "
            "account of each a different email (UPDATE users SET email = ... WHERE id = ...), "
            "then start auth again."
        )
    op.add_column("users", sa.Column("email_key", sa.String(320)))
    if users:
        bind.execute(
            sa.text("UPDATE users SET email_key = :key WHERE id = :id"),
            [{"key": _email_key(email), "id": user_id} for user_id, email in users],
        )
    op.alter_column("users", "email_key", nullable=False)
    op.drop_index("users_email_lower_key", table_name="users")
    op.create_index("users_email_key_unique", "users", ["email_key"], unique=True)


def downgrade() -> None:
    op.drop_index("users_email_key_unique", table_name="users")
    op.create_index("users_email_lower_key", "users", [sa.text("lower(email)")], unique=True)
    op.drop_column("users", "email_key")
