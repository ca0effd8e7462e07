"""rate limit per person: token buckets shared by every bot worker, refusals counted per day

Revision ID: 0060
Revises: 0040
Create Date: 2026-12-07 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0060"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "rate_limit_bucket",
        sa.Column("person", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("admitted", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("person"),
    )
    with op.batch_alter_table("rate_limit_bucket", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limit_bucket_updated"), ["updated"], unique=False)
    op.create_table(
        "rate_limit_refusal",
        sa.Column("person", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person", "day"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("rate_limit_refusal")
    with op.batch_alter_table("rate_limit_bucket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_bucket_updated"))
    op.drop_table("rate_limit_bucket")
