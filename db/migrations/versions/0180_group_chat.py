"""departments' chat groups as channel addresses: `group_chat` and `chat` hold text

`department.telegram_chat_id` (a number) becomes `department.group_chat`, the address of the
department's group on the chat app as text, the way every channel identity's address is kept;
the chat channel reads the number back when it sends. `contact.telegram_chat_id` becomes
`contact.chat` the same way. Every stored id is carried over, 64-bit ids exactly; downgrading
carries them back (an address that is not a number, which only a later channel could write,
is dropped).

Revision ID: 0180
Revises: 0170
Create Date: 2026-12-07 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0180"
down_revision: str | None = "0170"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, old numeric column, new text column)
MOVES = (("department", "telegram_chat_id", "group_chat"), ("contact", "telegram_chat_id", "chat"))


def _number(address: str | None) -> int | None:
    text = (address or "").strip()
    if not text.lstrip("-").isdigit():
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def _copy(table_name: str, source: str, target: str, convert: object) -> None:
    """Copy every row's value of `source` into `target`, converted (one statement per row)."""
    bind = op.get_bind()
    table = sa.table(
        table_name, sa.column("id", sa.Integer()), sa.column(source), sa.column(target)
    )
    rows = bind.execute(
        sa.select(table.c.id, table.c[source]).where(table.c[source].is_not(None))
    ).all()
    for row_id, value in rows:
        new = convert(value)  # type: ignore[operator]
        bind.execute(table.update().where(table.c.id == row_id).values({target: new}))


def upgrade() -> None:
    """Apply this revision."""
    for table, old, new in MOVES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(new, sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
            )
        _copy(table, old, new, str)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(old)


def downgrade() -> None:
    """Revert this revision."""
    for table, old, new in MOVES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(old, sa.BigInteger(), nullable=True))
        _copy(table, new, old, _number)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(new)
