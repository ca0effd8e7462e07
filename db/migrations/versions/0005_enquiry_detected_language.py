"""enquiry: the language its text is written in (any language; null when too short to tell)

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-01 11:40:00

Enquiries from before this revision have no detected language: staff see "går inte att avgöra"
and the public report counts them as undetermined. Numbered 0005 on its branch, it runs after
0007 (the e-mail channel), which reached main first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("enquiry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "detected_language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_enquiry_detected_language"), ["detected_language"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("enquiry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enquiry_detected_language"))
        batch_op.drop_column("detected_language")
