"""channel identities: a person who writes for an association has one or more identities

`association_user` becomes the person: its Telegram user id and chat id move into
`channel_identity` (channel, address, conversation), one row per person (the channel the
person last wrote from: Telegram, or the console). An erased person (the old pseudonym, a
negative id) gets `erased_at` and no identity. Downgrading carries each person's Telegram (or
console) identity back; a person without one (erased, or only reachable by e-mail or the web
chat) gets the pseudonym minus the row id again.

Revision ID: 0080
Revises: 0060
Create Date: 2026-12-07 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0080"
down_revision: str | None = "0060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CHANNELS = ("telegram", "console")
"""The channels an association user could write from before (their id was the channel's)."""

USERS = sa.table(
    "association_user",
    sa.column("id", sa.Integer),
    sa.column("telegram_user_id", sa.BigInteger),
    sa.column("chat_id", sa.BigInteger),
    sa.column("channel", sa.String),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime),
    sa.column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime),
    sa.column("erased_at", sqlmodel.sql.sqltypes.UTCDateTime),
)
IDENTITIES = sa.table(
    "channel_identity",
    sa.column("id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("channel", sa.String),
    sa.column("address", sa.String),
    sa.column("conversation", sa.String),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime),
    sa.column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime),
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "channel_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["association_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "address"),
    )
    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_identity_person_id"), ["person_id"], unique=False
        )
    with op.batch_alter_table("association_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )

    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            USERS.c.id,
            USERS.c.telegram_user_id,
            USERS.c.chat_id,
            USERS.c.channel,
            USERS.c.created_at,
            USERS.c.last_seen_at,
        ).order_by(USERS.c.id)
    ).all()
    identities = []
    for row in rows:
        if row.telegram_user_id < 0:  # erased: the pseudonym names nobody
            bind.execute(
                sa.update(USERS).where(USERS.c.id == row.id).values(erased_at=row.last_seen_at)
            )
            continue
        identities.append(
            {
                "person_id": row.id,
                "channel": row.channel if row.channel in OLD_CHANNELS else "telegram",
                "address": str(row.telegram_user_id),
                "conversation": str(row.chat_id) if row.chat_id is not None else None,
                "created_at": row.created_at,
                "last_seen_at": row.last_seen_at,
            }
        )
    if identities:
        bind.execute(sa.insert(IDENTITIES), identities)

    with op.batch_alter_table("association_user", schema=None) as batch_op:
        batch_op.drop_column("chat_id")
        batch_op.drop_column("telegram_user_id")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("association_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_user_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))

    bind = op.get_bind()
    people = bind.execute(sa.select(USERS.c.id, USERS.c.erased_at)).all()
    identities = bind.execute(
        sa.select(
            IDENTITIES.c.person_id,
            IDENTITIES.c.channel,
            IDENTITIES.c.address,
            IDENTITIES.c.conversation,
        ).order_by(IDENTITIES.c.last_seen_at.desc(), IDENTITIES.c.id.desc())
    ).all()
    best: dict[int, tuple[int, int | None]] = {}
    for channel in OLD_CHANNELS:  # a Telegram identity first, else the console's
        for identity in identities:
            if identity.channel != channel or identity.person_id in best:
                continue
            if not identity.address.isdigit():
                continue
            conversation = identity.conversation
            chat = (
                int(conversation)
                if conversation is not None and conversation.lstrip("-").isdigit()
                else None
            )
            best[identity.person_id] = (int(identity.address), chat)
    for person in people:
        user_id, chat_id = best.get(person.id, (-person.id, None))
        bind.execute(
            sa.update(USERS)
            .where(USERS.c.id == person.id)
            .values(telegram_user_id=user_id, chat_id=chat_id)
        )

    with op.batch_alter_table("association_user", schema=None) as batch_op:
        batch_op.alter_column("telegram_user_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint(
            "association_user_telegram_user_id_key", ["telegram_user_id"]
        )
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_identity_person_id"))
    op.drop_table("channel_identity")
