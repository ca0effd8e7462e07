"""staff people: a municipal employee is one person with channel identities, not a Telegram id

`staff_person` (name) and `staff_identity` (channel, address) are new. Every Telegram user id
that named a staff member (roles, used invitations, desk sign-in links and sessions, assigned
enquiries, claimed escalations, staff messages in the outbox) becomes one person with the
identity ("telegram", id), named after their roles' stored name. Every desk account becomes
(or, when named by nothing else, is) a person of its own: `desk_account.person_id`, and
`enquiry.assigned_to` held minus the account's id before. The command line's pseudo id 0
becomes the person "cli" with the identity ("cli", "local"). `staff_member` is keyed on the
person; `assigned_to`, `claimed_by` and `used_by` hold person ids (foreign keys).

Downgrading carries each person's Telegram identity back (a desk account's person becomes
minus the account's id again, "cli" 0); roles, links and sessions of a person without a
Telegram identity (e.g. added by e-mail address) are dropped.

Revision ID: 0160
Revises: 0140
Create Date: 2026-12-07 19:30:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0160"
down_revision: str | None = "0140"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TELEGRAM = "telegram"
CLI = ("cli", "local")
"""The identity of the local operator at the command line (its old pseudo id was 0)."""

UTC_DT = sqlmodel.sql.sqltypes.UTCDateTime
PEOPLE = sa.table(
    "staff_person",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("created_at", UTC_DT),
)
IDENTITIES = sa.table(
    "staff_identity",
    sa.column("id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("channel", sa.String),
    sa.column("address", sa.String),
    sa.column("created_at", UTC_DT),
)
OLD_MEMBERS = sa.table(
    "staff_member",
    sa.column("id", sa.Integer),
    sa.column("telegram_user_id", sa.BigInteger),
    sa.column("name", sa.String),
    sa.column("role", sa.String),
    sa.column("department_id", sa.Integer),
    sa.column("created_at", UTC_DT),
    sa.column("created_by", sa.String),
)
NEW_MEMBERS = sa.table(
    "staff_member",
    sa.column("id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("role", sa.String),
    sa.column("department_id", sa.Integer),
    sa.column("created_at", UTC_DT),
    sa.column("created_by", sa.String),
)
ACCOUNTS = sa.table(
    "desk_account",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("person_id", sa.Integer),
    sa.column("created_at", UTC_DT),
)
INVITES = sa.table("staff_invite", sa.column("id", sa.Integer), sa.column("used_by", sa.BigInteger))
TOKENS = sa.table(
    "desk_login_token",
    sa.column("id", sa.Integer),
    sa.column("telegram_user_id", sa.BigInteger),
    sa.column("person_id", sa.Integer),
)
SESSIONS = sa.table(
    "desk_session",
    sa.column("id", sa.Integer),
    sa.column("telegram_user_id", sa.BigInteger),
    sa.column("person_id", sa.Integer),
    sa.column("account_id", sa.Integer),
)
ENQUIRIES = sa.table(
    "enquiry", sa.column("id", sa.Integer), sa.column("assigned_to", sa.BigInteger)
)
ESCALATIONS = sa.table(
    "escalation", sa.column("id", sa.Integer), sa.column("claimed_by", sa.BigInteger)
)
OUTBOX = sa.table(
    "outbox_message",
    sa.column("id", sa.Integer),
    sa.column("recipient", sa.String),
    sa.column("recipient_id", sa.BigInteger),
)

FK_ASSIGNED = "fk_enquiry_assigned_to_staff_person"
FK_CLAIMED = "fk_escalation_claimed_by_staff_person"
FK_USED_BY = "fk_staff_invite_used_by_staff_person"
FK_ACCOUNT = "fk_desk_account_person_id_staff_person"
FK_TOKEN = "fk_desk_login_token_person_id_staff_person"
FK_SESSION = "fk_desk_session_person_id_staff_person"


def _member_table(name: str, key: sa.Column[Any], *extra: sa.Column[Any]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        key,
        *extra,
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DT(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        *(
            [sa.ForeignKeyConstraint(["person_id"], ["staff_person.id"])]
            if key.name == "person_id"
            else []
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(key.name, "role", "department_id"),
    )


def _like(name: str, table: sa.TableClause) -> sa.TableClause:
    return sa.table(name, *(sa.column(c.name, c.type) for c in table.c))


def _ids(bind: sa.Connection, column: sa.ColumnElement[Any]) -> list[int]:
    return [row[0] for row in bind.execute(sa.select(column).where(column.is_not(None))).all()]


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "staff_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", UTC_DT(), nullable=False),
        sa.Column("erased_at", UTC_DT(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "staff_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("created_at", UTC_DT(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["staff_person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "address"),
    )
    with op.batch_alter_table("staff_identity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_identity_person_id"), ["person_id"])

    bind = op.get_bind()
    now = datetime.now(UTC)

    def new_person(name: str | None, channel: str | None = None, address: str = "") -> int:
        created = bind.execute(
            sa.insert(PEOPLE).values(name=name, created_at=now).returning(PEOPLE.c.id)
        ).scalar_one()
        if channel is not None:
            bind.execute(
                sa.insert(IDENTITIES).values(
                    person_id=created, channel=channel, address=address, created_at=now
                )
            )
        return int(created)

    # Telegram users: every id that named a staff member anywhere, named after their roles.
    members = bind.execute(sa.select(OLD_MEMBERS).order_by(OLD_MEMBERS.c.id)).all()
    names: dict[int, str | None] = {}
    for member in members:
        if names.get(member.telegram_user_id) is None:
            names[member.telegram_user_id] = member.name
    telegram_ids = set(names)
    telegram_ids |= set(_ids(bind, INVITES.c.used_by))
    telegram_ids |= set(_ids(bind, TOKENS.c.telegram_user_id))
    telegram_ids |= set(_ids(bind, SESSIONS.c.telegram_user_id))
    claimed = bind.execute(sa.select(ESCALATIONS).where(ESCALATIONS.c.claimed_by.is_not(None)))
    claims = claimed.all()
    assigned = bind.execute(sa.select(ENQUIRIES).where(ENQUIRIES.c.assigned_to.is_not(None)))
    assignments = assigned.all()
    outbox = bind.execute(
        sa.select(OUTBOX).where(OUTBOX.c.recipient == "staff", OUTBOX.c.recipient_id.is_not(None))
    ).all()
    staff_ids = [r.claimed_by for r in claims] + [r.assigned_to for r in assignments]
    telegram_ids |= {i for i in staff_ids + [r.recipient_id for r in outbox] if i > 0}
    person_of: dict[int, int] = {}  # old staff id (Telegram id, -account id, 0) -> person id
    for telegram_id in sorted(telegram_ids):
        person_of[telegram_id] = new_person(names.get(telegram_id), TELEGRAM, str(telegram_id))

    # Desk accounts: a person each.
    with op.batch_alter_table("desk_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
    for account in bind.execute(sa.select(ACCOUNTS).order_by(ACCOUNTS.c.id)).all():
        person = new_person(account.username)
        person_of[-account.id] = person
        bind.execute(
            sa.update(ACCOUNTS).where(ACCOUNTS.c.id == account.id).values(person_id=person)
        )
    with op.batch_alter_table("desk_account", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f("ix_desk_account_person_id"), ["person_id"])
        batch_op.create_foreign_key(FK_ACCOUNT, "staff_person", ["person_id"], ["id"])

    # The command line's operator, if it ever claimed or was given anything.
    if 0 in staff_ids:
        person_of[0] = new_person("cli", *CLI)

    # Roles: keyed on the person.
    _member_table(
        "staff_member_new",
        sa.Column("person_id", sa.Integer(), nullable=False),
    )
    rows = [
        {
            "id": m.id,
            "person_id": person_of[m.telegram_user_id],
            "role": m.role,
            "department_id": m.department_id,
            "created_at": m.created_at,
            "created_by": m.created_by,
        }
        for m in members
    ]
    if rows:
        bind.execute(sa.insert(_like("staff_member_new", NEW_MEMBERS)), rows)
    with op.batch_alter_table("staff_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_member_telegram_user_id"))
    op.drop_table("staff_member")
    op.rename_table("staff_member_new", "staff_member")
    if bind.dialect.name == "postgresql":  # the new table's serial keeps counting after the rows
        op.execute(
            "SELECT setval(pg_get_serial_sequence('staff_member', 'id'), "
            "COALESCE((SELECT MAX(id) FROM staff_member), 0) + 1, false)"
        )
    with op.batch_alter_table("staff_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_member_person_id"), ["person_id"])

    # Old staff ids -> person ids, row by row (by primary key: old and new ids may coincide).
    for invite_id, used_by in bind.execute(
        sa.select(INVITES.c.id, INVITES.c.used_by).where(INVITES.c.used_by.is_not(None))
    ).all():
        bind.execute(
            sa.update(INVITES)
            .where(INVITES.c.id == invite_id)
            .values(used_by=person_of.get(used_by))
        )
    for row in assignments:
        bind.execute(
            sa.update(ENQUIRIES)
            .where(ENQUIRIES.c.id == row.id)
            .values(assigned_to=person_of.get(row.assigned_to))
        )
    for row in claims:
        bind.execute(
            sa.update(ESCALATIONS)
            .where(ESCALATIONS.c.id == row.id)
            .values(claimed_by=person_of.get(row.claimed_by))
        )
    for row in outbox:
        bind.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == row.id)
            .values(recipient_id=person_of.get(row.recipient_id))
        )
    for table, fk in ((TOKENS, FK_TOKEN), (SESSIONS, FK_SESSION)):
        with op.batch_alter_table(table.name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        for row_id, telegram_id in bind.execute(
            sa.select(table.c.id, table.c.telegram_user_id).where(
                table.c.telegram_user_id.is_not(None)
            )
        ).all():
            bind.execute(
                sa.update(table)
                .where(table.c.id == row_id)
                .values(person_id=person_of[telegram_id])
            )
        with op.batch_alter_table(table.name, schema=None) as batch_op:
            batch_op.drop_column("telegram_user_id")
            batch_op.create_foreign_key(fk, "staff_person", ["person_id"], ["id"])

    for table_name, column_name, fk in (
        ("enquiry", "assigned_to", FK_ASSIGNED),
        ("escalation", "claimed_by", FK_CLAIMED),
        ("staff_invite", "used_by", FK_USED_BY),
    ):
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.alter_column(
                column_name,
                existing_type=sa.BigInteger(),
                type_=sa.Integer(),
                existing_nullable=True,
            )
            batch_op.create_foreign_key(fk, "staff_person", [column_name], ["id"])


def downgrade() -> None:
    """Revert this revision."""
    bind = op.get_bind()
    telegram: dict[int, int] = {}
    for person_id, address in bind.execute(
        sa.select(IDENTITIES.c.person_id, IDENTITIES.c.address)
        .where(IDENTITIES.c.channel == TELEGRAM)
        .order_by(IDENTITIES.c.id.desc())
    ).all():
        if address.isdigit():
            telegram[person_id] = int(address)
    old_of: dict[int, int] = dict(telegram)  # person id -> old staff id
    for account_id, person_id in bind.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.person_id).order_by(ACCOUNTS.c.id.desc())
    ).all():
        old_of.setdefault(person_id, -account_id)
    cli = bind.execute(
        sa.select(IDENTITIES.c.person_id).where(
            IDENTITIES.c.channel == CLI[0], IDENTITIES.c.address == CLI[1]
        )
    ).first()
    if cli is not None:
        old_of.setdefault(cli[0], 0)

    for table_name, column_name, fk in (
        ("enquiry", "assigned_to", FK_ASSIGNED),
        ("escalation", "claimed_by", FK_CLAIMED),
        ("staff_invite", "used_by", FK_USED_BY),
    ):
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.drop_constraint(fk, type_="foreignkey")
            batch_op.alter_column(
                column_name,
                existing_type=sa.Integer(),
                type_=sa.BigInteger(),
                existing_nullable=True,
            )
    for table, column in (
        (ENQUIRIES, ENQUIRIES.c.assigned_to),
        (ESCALATIONS, ESCALATIONS.c.claimed_by),
        (INVITES, INVITES.c.used_by),
    ):
        for row_id, person_id in bind.execute(
            sa.select(table.c.id, column).where(column.is_not(None))
        ).all():
            bind.execute(
                sa.update(table)
                .where(table.c.id == row_id)
                .values({column.name: old_of.get(person_id)})
            )
    for row in bind.execute(
        sa.select(OUTBOX).where(OUTBOX.c.recipient == "staff", OUTBOX.c.recipient_id.is_not(None))
    ).all():
        bind.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == row.id)
            .values(recipient_id=telegram.get(row.recipient_id))
        )

    for table, fk in ((TOKENS, FK_TOKEN), (SESSIONS, FK_SESSION)):
        with op.batch_alter_table(table.name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("telegram_user_id", sa.BigInteger(), nullable=True))
        for row_id, person_id in bind.execute(
            sa.select(table.c.id, table.c.person_id).where(table.c.person_id.is_not(None))
        ).all():
            if person_id in telegram:
                bind.execute(
                    sa.update(table)
                    .where(table.c.id == row_id)
                    .values(telegram_user_id=telegram[person_id])
                )
            else:  # a person without a Telegram identity: their link or session ends
                bind.execute(sa.delete(table).where(table.c.id == row_id))
        with op.batch_alter_table(table.name, schema=None) as batch_op:
            batch_op.drop_constraint(fk, type_="foreignkey")
            batch_op.drop_column("person_id")

    members = bind.execute(sa.select(NEW_MEMBERS).order_by(NEW_MEMBERS.c.id)).all()
    names = dict(bind.execute(sa.select(PEOPLE.c.id, PEOPLE.c.name)).all())
    _member_table(
        "staff_member_old",
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    )
    rows = [
        {
            "id": m.id,
            "telegram_user_id": telegram[m.person_id],
            "name": names.get(m.person_id),
            "role": m.role,
            "department_id": m.department_id,
            "created_at": m.created_at,
            "created_by": m.created_by,
        }
        for m in members
        if m.person_id in telegram
    ]
    if rows:
        bind.execute(sa.insert(_like("staff_member_old", OLD_MEMBERS)), rows)
    with op.batch_alter_table("staff_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_member_person_id"))
    op.drop_table("staff_member")
    op.rename_table("staff_member_old", "staff_member")
    if bind.dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('staff_member', 'id'), "
            "COALESCE((SELECT MAX(id) FROM staff_member), 0) + 1, false)"
        )
    with op.batch_alter_table("staff_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_member_telegram_user_id"), ["telegram_user_id"])

    with op.batch_alter_table("desk_account", schema=None) as batch_op:
        batch_op.drop_constraint(FK_ACCOUNT, type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_desk_account_person_id"))
        batch_op.drop_column("person_id")
    with op.batch_alter_table("staff_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_identity_person_id"))
    op.drop_table("staff_identity")
    op.drop_table("staff_person")
