"""`lotsen staff …`: who may act as municipal staff in the bot (logic: db/people/staff.py)."""

from __future__ import annotations

import typer

from bot.cli.common import (
    ActorOption,
    cli_language,
    default_actor,
    fail,
    invalid,
    open_session,
    settings_or_exit,
)
from bot.i18n import nt, t

app = typer.Typer(help="Staff members, roles and invitations.", no_args_is_help=True)


IDENTITY_HELP = (
    "A numeric Telegram user id (or telegram:ID), or email:ADDRESS for someone reached by e-mail."
)


def parse_identity(value: str) -> tuple[str, str]:
    """Return the (channel, address) a staff member is named by on the command line.

    Digits (or `telegram:` and digits) are a Telegram user id; `email:ADDRESS` an e-mail address.
    Raises ValidationProblem for anything else.
    """
    from db.models import Channel
    from db.people.staff_identities import check_identity
    from db.plumbing.validation import (
        CHAT_ID_PROBLEM,
        FIELD_PROBLEM,
        ValidationProblem,
        parse_chat_id,
    )

    text = value.strip()
    channel, separator, address = text.partition(":")
    if not separator:
        channel, address = "telegram", text
    channel = channel.strip().lower()
    if channel == "telegram":
        number = parse_chat_id(address, "telegram_user_id")
        if number <= 0:
            raise ValidationProblem(
                "telegram_user_id", CHAT_ID_PROBLEM, value=value, channel=Channel.TELEGRAM
            )
        return channel, str(number)
    if channel != "email":
        raise ValidationProblem("channel", FIELD_PROBLEM, value=value)
    return check_identity(channel, address)


def _parse_id(value: str) -> tuple[str, str]:
    from db.plumbing.validation import ValidationProblem

    try:
        return parse_identity(value)
    except ValidationProblem as exc:
        raise invalid(exc, 2) from None


def shown(channel: str, address: str) -> str:
    """Return how the command line names an identity (a Telegram id as the bare number)."""
    return address if channel == "telegram" else f"{channel}:{address}"


@app.command()
def add(
    telegram_user_id: str = typer.Argument(..., help=IDENTITY_HELP),
    role: str = typer.Option(..., "--role", help="staff, coordinator or admin."),
    department: str | None = typer.Option(None, "--department", help="Department key."),
    name: str | None = typer.Option(None, "--name", help="Display name."),
    actor: str | None = ActorOption,
) -> None:
    """Give a staff person (a Telegram user, an e-mail address) a role (staff: --department)."""
    from db.people.staff import add_staff

    channel, address = _parse_id(telegram_user_id)
    with open_session() as session:
        member = add_staff(
            session=session,
            channel=channel,
            address=address,
            role=role,
            department_key=department,
            name=name,
            actor=default_actor(actor),
        )
        line = _role_line(
            shown(channel, address), str(member.role), department if member.department_id else None
        )
    typer.echo(line)


def _role_line(user_id: str, role: str, department: str | None) -> str:
    """Return the line that confirms a user's role (and department)."""
    if department is None:
        # Translators: {role} is staff, coordinator or admin.
        return t(cli_language(), "{user_id} är {role}.", user_id=user_id, role=role)
    # Translators: {role} is staff, coordinator or admin; {department} is a department key.
    return t(
        cli_language(),
        "{user_id} är {role} i {department}.",
        user_id=user_id,
        role=role,
        department=department,
    )


@app.command("list")
def list_members() -> None:
    """Show every staff role: the person's identities, role, department and name."""
    from db.people.staff import list_staff
    from db.people.staff_identities import staff_identities

    with open_session() as session:
        rows = list_staff(session=session)
        for member, person, department in rows:
            assert person.id is not None
            names = [
                shown(i.channel, i.address)
                for i in staff_identities(session=session, person_id=person.id)
            ]
            typer.echo(
                f"{','.join(names) or '#' + str(person.id):>14} {member.role:12} "
                f"{department.key if department else '-':16} {person.name or ''}"
            )
    if not rows:
        typer.echo(t(cli_language(), "Ingen personal ännu."))


@app.command()
def remove(
    telegram_user_id: str = typer.Argument(..., help=IDENTITY_HELP),
    role: str | None = typer.Option(None, "--role", help="Remove only this role."),
    department: str | None = typer.Option(None, "--department", help="Only in this department."),
    actor: str | None = ActorOption,
) -> None:
    """Take away a person's roles (all of them unless --role/--department)."""
    from db.people.staff import remove_staff

    channel, address = _parse_id(telegram_user_id)
    user_id = shown(channel, address)
    with open_session() as session:
        removed = remove_staff(
            session=session,
            channel=channel,
            address=address,
            role=role,
            department_key=department,
            actor=default_actor(actor),
        )
    if removed == 0:
        raise fail(t(cli_language(), "Fel: {user_id} har ingen sådan roll.", user_id=user_id))
    message = nt(
        cli_language(),
        "Tog bort {count} roll från {user_id}.",
        "Tog bort {count} roller från {user_id}.",
        removed,
        user_id=user_id,
    )
    typer.echo(message)


@app.command()
def invite(
    department: str = typer.Argument(..., help="Department key."),
    role: str = typer.Option("staff", "--role", help="staff or coordinator."),
    hours: int = typer.Option(48, "--hours", min=1, help="Hours until the link expires."),
    actor: str | None = ActorOption,
) -> None:
    """Print a one-time Telegram link that makes whoever opens it staff of a department."""
    from bot.channels.telegram.common import invite_link
    from db.people.staff import create_invite

    settings = settings_or_exit()
    with open_session() as session:
        created = create_invite(
            session=session,
            department_key=department,
            role=role,
            hours=hours,
            actor=default_actor(actor),
        )
    typer.echo(invite_link(settings.telegram_bot_username, created.code))
    until = f"{created.expires_at:%Y-%m-%d %H:%M}"
    # Translators: how long the invitation link printed above works.
    typer.echo(t(cli_language(), "Gäller en gång, till {until} UTC.", until=until), err=True)


def register(root: typer.Typer) -> None:
    """Attach `lotsen staff …` to the main command line."""
    root.add_typer(app, name="staff")
