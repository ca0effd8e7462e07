"""inbound mail: every e-mail that reached Lotsen, keyed by its Message-ID, kept as it arrived

Revision ID: 0100
Revises: 0080 (was 0060; relinked after merging identities, whose 0080 is also on 0060)
Create Date: 2026-12-07 16:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0100"
down_revision: str | None = "0080"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (a new table: the existing rows stay as they are)."""
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("enquiry_id", sa.Integer(), nullable=True),
        sa.Column("handled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("inbound_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_mail_enquiry_id"), ["enquiry_id"])
        batch_op.create_index(batch_op.f("ix_inbound_mail_received_at"), ["received_at"])
        batch_op.create_index(batch_op.f("ix_inbound_mail_state"), ["state"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("inbound_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_mail_state"))
        batch_op.drop_index(batch_op.f("ix_inbound_mail_received_at"))
        batch_op.drop_index(batch_op.f("ix_inbound_mail_enquiry_id"))
    op.drop_table("inbound_mail")
