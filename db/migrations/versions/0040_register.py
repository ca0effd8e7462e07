"""register: marks on records, disposal decisions and their log, errands in the case system

Revision ID: 0040
Revises: 0020
Create Date: 2026-12-07 13:45:00.000000

New tables only; the register's facts are read from the enquiries and their history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0040"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "disposal_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("covers", sa.JSON(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_table(
        "disposal_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["disposal_decision.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("disposal_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disposal_log_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_disposal_log_decision_id"), ["decision_id"], unique=False
        )
    op.create_table(
        "register_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enquiry_id", sa.Integer(), nullable=False),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("marked_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("marked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enquiry_id"),
    )
    op.create_table(
        "errand_filing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enquiry_id", sa.Integer(), nullable=False),
        sa.Column("errand_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("errand_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("filed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enquiry_id"),
    )


def downgrade() -> None:
    """Revert this revision (decisions, their log, marks and errand numbers are lost)."""
    op.drop_table("errand_filing")
    op.drop_table("register_mark")
    with op.batch_alter_table("disposal_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disposal_log_decision_id"))
        batch_op.drop_index(batch_op.f("ix_disposal_log_at"))
    op.drop_table("disposal_log")
    op.drop_table("disposal_decision")
