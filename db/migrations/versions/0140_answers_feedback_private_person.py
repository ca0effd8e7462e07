"""answers kept as records, feedback with an optional comment, one-person associations

Revision ID: 0140
Revises: 0060
Create Date: 2026-12-07 16:30:00.000000

Carries existing data over: each enquiry's answer (`enquiry.answer_text`) becomes its first
answer record (at `answered_at`, by the department or coordinator its last `answered` event
names), and each yes/no already given (`enquiry.helpful`) becomes a feedback row on that answer,
given on Telegram (the only channel that asked) at its `feedback` event's time. Downgrading
drops the new tables and the flag; the enquiry rows keep their answer and `helpful` as before.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0140"
down_revision: str | None = "0120"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("association", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("private_person", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "answer_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enquiry_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enquiry_id", "number"),
    )
    with op.batch_alter_table("answer_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answer_record_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_answer_record_enquiry_id"), ["enquiry_id"], unique=False
        )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enquiry_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("given_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("comment_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["answer_id"], ["answer_record.id"]),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("answer_id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_enquiry_id"), ["enquiry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_given_at"), ["given_at"], unique=False)
    _carry_over()


def _carry_over() -> None:
    """Make the first answer record of every answered enquiry, and feedback of every yes/no."""
    connection = op.get_bind()
    enquiries = connection.execute(
        sa.text(
            "SELECT id, answer_text, answered_by, answered_at, updated_at, helpful FROM enquiry"
            " WHERE answer_text IS NOT NULL"
        )
    ).all()
    for enquiry_id, text, answered_by, answered_at, updated_at, helpful in enquiries:
        events = connection.execute(
            sa.text(
                "SELECT kind, at, detail FROM enquiry_event WHERE enquiry_id = :id"
                " AND kind IN ('answered', 'feedback') ORDER BY at, id"
            ),
            {"id": enquiry_id},
        ).all()
        by, feedback_at = "coordinator", None
        for kind, at, detail in events:
            if kind == "answered":
                if isinstance(detail, str):
                    detail = json.loads(detail)
                found = detail.get("by") if isinstance(detail, dict) else None
                by = str(found or by)
            else:
                feedback_at = at
        answer_id = connection.execute(
            sa.text(
                "INSERT INTO answer_record (enquiry_id, number, text, by, actor, at)"
                " VALUES (:enquiry, 1, :text, :by, :actor, :at) RETURNING id"
            ),
            {
                "enquiry": enquiry_id,
                "text": text,
                "by": by[:64],
                "actor": (answered_by or "unknown")[:64],
                "at": answered_at or updated_at,
            },
        ).scalar_one()
        if helpful is not None:
            connection.execute(
                sa.text(
                    "INSERT INTO feedback (enquiry_id, answer_id, helpful, channel, given_at)"
                    " VALUES (:enquiry, :answer, :helpful, 'telegram', :at)"
                ),
                {
                    "enquiry": enquiry_id,
                    "answer": answer_id,
                    "helpful": bool(helpful),
                    "at": feedback_at or updated_at,
                },
            )


def downgrade() -> None:
    """Revert this revision (feedback comments, later answers' texts and the flag are lost)."""
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_given_at"))
        batch_op.drop_index(batch_op.f("ix_feedback_enquiry_id"))
    op.drop_table("feedback")
    with op.batch_alter_table("answer_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_record_enquiry_id"))
        batch_op.drop_index(batch_op.f("ix_answer_record_at"))
    op.drop_table("answer_record")
    with op.batch_alter_table("association", schema=None) as batch_op:
        batch_op.drop_column("private_person")
