"""e-mail channel and department inbox: channel choice, mailbox, enquiry links, assignment

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01 11:00:10.716369

Departments keep taking enquiries on Telegram (`channels = 'telegram'`) until staff choose
e-mail or both. Downgrading deletes the e-mail links and the sessions opened with them.
The lead re-chains `down_revision` when merging the branches.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN_FK = "fk_desk_login_token_enquiry_id_enquiry"
SESSION_FK = "fk_desk_session_enquiry_id_enquiry"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "channels",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                server_default="telegram",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("mailbox", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True)
        )

    with op.batch_alter_table("desk_login_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enquiry_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("mailbox", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True)
        )
        batch_op.alter_column("telegram_user_id", existing_type=sa.BigInteger(), nullable=True)
        batch_op.create_foreign_key(TOKEN_FK, "enquiry", ["enquiry_id"], ["id"])

    with op.batch_alter_table("desk_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enquiry_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("mailbox", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True)
        )
        batch_op.create_foreign_key(SESSION_FK, "enquiry", ["enquiry_id"], ["id"])

    with op.batch_alter_table("enquiry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_to", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("enquiry", schema=None) as batch_op:
        batch_op.drop_column("assigned_to")

    op.execute("DELETE FROM desk_session WHERE enquiry_id IS NOT NULL")
    with op.batch_alter_table("desk_session", schema=None) as batch_op:
        batch_op.drop_constraint(SESSION_FK, type_="foreignkey")
        batch_op.drop_column("mailbox")
        batch_op.drop_column("enquiry_id")

    op.execute("DELETE FROM desk_login_token WHERE telegram_user_id IS NULL")
    with op.batch_alter_table("desk_login_token", schema=None) as batch_op:
        batch_op.drop_constraint(TOKEN_FK, type_="foreignkey")
        batch_op.alter_column("telegram_user_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column("mailbox")
        batch_op.drop_column("enquiry_id")

    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_column("mailbox")
        batch_op.drop_column("channels")
