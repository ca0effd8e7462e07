"""authorities: the staff-kept table of other authorities; enquiries referred to one of them

Revision ID: 0020
Revises: 0005
Create Date: 2026-12-07 13:20:00

A question that belongs to another authority (Skatteverket, Försäkringskassan, …) is answered
with that authority's website and phone and recorded with status "referred" and the
authority's key in `enquiry.referred_to`. Enquiries from before this revision were never
referred (null). Numbered 0020 so that it stays apart from the revisions other branches add.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0020"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "authority",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("handles", sa.Text(), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("authority", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authority_key"), ["key"], unique=True)
    with op.batch_alter_table("enquiry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("referred_to", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_enquiry_referred_to"), ["referred_to"], unique=False)


def downgrade() -> None:
    """Revert this revision (referred enquiries go to the coordinator's status: escalated)."""
    enquiry = sa.table("enquiry", sa.column("status", sa.String()))
    op.execute(
        enquiry.update()
        .where(enquiry.c.status.in_(["referred", "confirming"]))
        .values(status="escalated")
    )
    with op.batch_alter_table("enquiry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enquiry_referred_to"))
        batch_op.drop_column("referred_to")
    with op.batch_alter_table("authority", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authority_key"))
    op.drop_table("authority")
