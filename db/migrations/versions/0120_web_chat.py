"""web chat: chats and their transcripts

Revision ID: 0120
Revises: 0080
Create Date: 2026-12-07 16:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0120"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "web_chat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("visitor", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("token_hash"),
        sa.UniqueConstraint("visitor"),
    )
    op.create_table(
        "web_chat_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("outbound", sa.Boolean(), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=True),
        sa.Column("message_key", sa.String(length=128), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("handled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["web_chat.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_key"),
        sa.UniqueConstraint("outbox_id"),
    )
    with op.batch_alter_table("web_chat_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_chat_entry_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_chat_entry_handled"), ["handled"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("web_chat_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_chat_entry_handled"))
        batch_op.drop_index(batch_op.f("ix_web_chat_entry_chat_id"))

    op.drop_table("web_chat_entry")
    op.drop_table("web_chat")
