"""dead letters in the inbox; outbox sends whose outcome is in doubt

`inbox_update.dead_at`: an update that kept failing, kept with its error until it is retried or
dropped (`lotsen inbox`). `outbox_message.sending_at`: a send was started; with no `sent_at`
after a crash or a timeout, the message may have arrived, so the channel checks before sending
it again.

Revision ID: 0006
Revises: 0008
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dead_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sending_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("sending_at")
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.drop_column("dead_at")
