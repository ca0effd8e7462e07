"""Channel-neutral outbox: rows hold a message kind, a recipient and parameters, not text.

Existing rows keep their history: each becomes kind "text" with its old text and buttons in
its parameters and its chat as the address, so unsent ones still go out (rendered as they
were) and replies to sent ones still find their enquiry. Enquiry and escalation lose their
Telegram message columns (the outbox rows know where each message went).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:42:26.138979
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECIPIENT_OF_PURPOSE = {
    "forward": "department",
    "reminder": "department",
    "prompt": "department",
    "card": "coordinators",
}

old_outbox = sa.table(
    "outbox_message",
    sa.column("id", sa.Integer()),
    sa.column("chat_id", sa.BigInteger()),
    sa.column("text", sa.Text()),
    sa.column("reply_markup", sa.JSON()),
    sa.column("purpose", sa.String()),
    sa.column("telegram_message_id", sa.BigInteger()),
    sa.column("kind", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("recipient", sa.String()),
    sa.column("language", sa.String()),
    sa.column("params", sa.JSON()),
    sa.column("address", sa.String()),
    sa.column("external_id", sa.String()),
)


def _carry_over_messages() -> None:
    """Turn every old rendered message into a "text" row that keeps its text and address."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            old_outbox.c.id,
            old_outbox.c.chat_id,
            old_outbox.c.text,
            old_outbox.c.reply_markup,
            old_outbox.c.purpose,
            old_outbox.c.telegram_message_id,
        )
    ).all()
    for row in rows:
        message_id = row.telegram_message_id
        connection.execute(
            old_outbox.update()
            .where(old_outbox.c.id == row.id)
            .values(
                kind="text",
                channel="telegram",
                recipient=RECIPIENT_OF_PURPOSE.get(row.purpose, "association"),
                language="sv",
                params={"text": row.text, "reply_markup": row.reply_markup},
                address=str(row.chat_id),
                external_id=str(message_id) if message_id is not None else None,
            )
        )


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("association_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "channel",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="telegram",
            )
        )
    with op.batch_alter_table("association_user", schema=None) as batch_op:
        batch_op.alter_column("channel", server_default=None)

    with op.batch_alter_table("enquiry", schema=None) as batch_op:
        batch_op.drop_column("forward_message_id")
        batch_op.drop_column("forward_chat_id")

    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_column("card_message_id")
        batch_op.drop_column("card_chat_id")

    text_type = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", text_type(length=32), nullable=True))
        batch_op.add_column(sa.Column("channel", text_type(length=16), nullable=True))
        batch_op.add_column(sa.Column("recipient", text_type(length=16), nullable=True))
        batch_op.add_column(sa.Column("recipient_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("language", text_type(length=8), nullable=True))
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("address", text_type(length=320), nullable=True))
        batch_op.add_column(sa.Column("external_id", text_type(length=64), nullable=True))
    _carry_over_messages()
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        for name in ("kind", "channel", "recipient", "language", "params"):
            batch_op.alter_column(name, nullable=False)
        batch_op.drop_index(batch_op.f("ix_outbox_message_chat_id"))
        batch_op.create_index(batch_op.f("ix_outbox_message_channel"), ["channel"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_message_enquiry_id"), ["enquiry_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_message_escalation_id"), ["escalation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_message_sent_at"), ["sent_at"], unique=False)
        batch_op.create_unique_constraint("uq_outbox_message_dedupe_key", ["dedupe_key"])
        batch_op.drop_column("reply_markup")
        batch_op.drop_column("purpose")
        batch_op.drop_column("text")
        batch_op.drop_column("chat_id")
        batch_op.drop_column("telegram_message_id")


def downgrade() -> None:
    """Revert this revision (messages other than plain texts lose their body)."""
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_message_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("purpose", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reply_markup", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for row in connection.execute(
        sa.select(
            old_outbox.c.id,
            old_outbox.c.kind,
            old_outbox.c.params,
            old_outbox.c.address,
            old_outbox.c.external_id,
        )
    ).all():
        params = row.params or {}
        address = row.address if (row.address or "").lstrip("-").isdigit() else None
        connection.execute(
            old_outbox.update()
            .where(old_outbox.c.id == row.id)
            .values(
                chat_id=int(address) if address else 0,
                text=str(params.get("text") or f"[{row.kind}]"),
                reply_markup=params.get("reply_markup"),
                purpose="notice" if row.kind == "text" else row.kind,
                telegram_message_id=int(row.external_id) if row.external_id else None,
            )
        )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        for name in ("chat_id", "text", "purpose"):
            batch_op.alter_column(name, nullable=False)
        batch_op.drop_constraint("uq_outbox_message_dedupe_key", type_="unique")
        batch_op.drop_index(batch_op.f("ix_outbox_message_sent_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_escalation_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_enquiry_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_channel"))
        batch_op.create_index(batch_op.f("ix_outbox_message_chat_id"), ["chat_id"], unique=False)
        for name in (
            "external_id",
            "address",
            "dedupe_key",
            "params",
            "language",
            "recipient_id",
            "recipient",
            "channel",
            "kind",
        ):
            batch_op.drop_column(name)

    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("card_message_id", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("enquiry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forward_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("forward_message_id", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("association_user", schema=None) as batch_op:
        batch_op.drop_column("channel")
