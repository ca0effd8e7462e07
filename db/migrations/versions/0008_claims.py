"""claims: inbox lanes by chat, and leases on inbox and outbox rows for several bot processes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 11:30:00.000000

Updates still waiting get their chat from the stored payload.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _chat_of(payload: dict[str, object]) -> int:
    """Return the chat an update belongs to (as bot/channels/telegram/inbox.py stores it)."""
    for kind in ("message", "edited_message", "callback_query", "channel_post"):
        item = payload.get(kind)
        if isinstance(item, dict):
            chat = item.get("chat") or (item.get("message") or {}).get("chat") or {}
            sender = item.get("from") or {}
            return int(chat.get("id") or sender.get("id") or 0)
    return 0


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_inbox_update_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inbox_update_processed_at"), ["processed_at"], unique=False
        )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )

    inbox = sa.table(
        "inbox_update",
        sa.column("update_id", sa.BigInteger()),
        sa.column("payload", sa.JSON()),
        sa.column("chat_id", sa.BigInteger()),
        sa.column("processed_at", sa.DateTime()),
    )
    connection = op.get_bind()
    waiting = connection.execute(
        sa.select(inbox.c.update_id, inbox.c.payload).where(inbox.c.processed_at.is_(None))
    ).all()
    for update_id, payload in waiting:
        connection.execute(
            inbox.update()
            .where(inbox.c.update_id == update_id)
            .values(chat_id=_chat_of(payload or {}))
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("claimed_until")
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_update_processed_at"))
        batch_op.drop_index(batch_op.f("ix_inbox_update_chat_id"))
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("chat_id")
