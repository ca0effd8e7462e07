"""inbox: who sent each update, as channel:address (the person key)

Revision ID: 0170
Revises: 0160
Create Date: 2026-12-07 19:50:00.000000

Erasure and export find a person's stored updates by this column instead of reading the
channel's update format; the updates already stored get it from their payload here.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0170"
down_revision: str | None = "0160"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def _sender(payload: Any) -> str | None:
    """Return telegram:<from.id> of an update's part (as the Telegram channel writes it)."""
    if isinstance(payload, str):
        payload = json.loads(payload)
    if not isinstance(payload, dict):
        return None
    for part in payload.values():
        if isinstance(part, dict):
            sender = part.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                return f"telegram:{sender['id']}"
    return None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_inbox_update_sender"), ["sender"], unique=False)
    bind = op.get_bind()
    table = sa.table(
        "inbox_update",
        sa.column("update_id", sa.BigInteger()),
        sa.column("payload", sa.JSON()),
        sa.column("sender", sa.String()),
    )
    last = None
    while True:
        query = sa.select(table.c.update_id, table.c.payload).order_by(table.c.update_id)
        if last is not None:
            query = query.where(table.c.update_id > last)
        rows = bind.execute(query.limit(BATCH)).all()
        if not rows:
            break
        for update_id, payload in rows:
            sender = _sender(payload)
            if sender is not None:
                bind.execute(
                    table.update().where(table.c.update_id == update_id).values(sender=sender)
                )
        last = rows[-1][0]


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_update_sender"))
        batch_op.drop_column("sender")
