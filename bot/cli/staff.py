"""`lotsen staff …`: who may act as municipal staff in the bot (logic lives in db/staff.py)."""

from __future__ import annotations

import typer

from bot.cli.common import (
    ActorOption,
    default_actor,
    fail,
    open_session,
    say,
    settings_or_exit,
)

app = typer.Typer(help="Staff members, roles and invitations.", no_args_is_help=True)


def _parse_id(value: str) -> int:
    from db.staff import parse_user_id
    from db.validation import ValidationProblem

    try:
        return parse_user_id(value)
    except ValidationProblem as exc:
        raise fail(f"Error: {exc.field}: {say(exc)}", 2) from None


@app.command()
def add(
    telegram_user_id: str = typer.Argument(..., help="Numeric Telegram user id."),
    role: str = typer.Option(..., "--role", help="staff, coordinator or admin."),
    department: str | None = typer.Option(None, "--department", help="Department key."),
    name: str | None = typer.Option(None, "--name", help="Display name."),
    actor: str | None = ActorOption,
) -> None:
    """Give a Telegram user a staff role (staff needs --department)."""
    from db.staff import add_staff

    user_id = _parse_id(telegram_user_id)
    with open_session() as session:
        member = add_staff(
            session=session,
            telegram_user_id=user_id,
            role=role,
            department_key=department,
            name=name,
            actor=default_actor(actor),
        )
        where = f" in {department}" if member.department_id else ""
    typer.echo(f"{user_id} is {member.role}{where}.")


@app.command("list")
def list_members() -> None:
    """Show every staff role."""
    from db.staff import list_staff

    with open_session() as session:
        rows = list_staff(session=session)
        for member, department in rows:
            typer.echo(
                f"{member.telegram_user_id:>14} {member.role:12} "
                f"{department.key if department else '-':16} {member.name or ''}"
            )
    if not rows:
        typer.echo("No staff yet.")


@app.command()
def remove(
    telegram_user_id: str = typer.Argument(..., help="Numeric Telegram user id."),
    role: str | None = typer.Option(None, "--role", help="Remove only this role."),
    department: str | None = typer.Option(None, "--department", help="Only in this department."),
    actor: str | None = ActorOption,
) -> None:
    """Take away a user's roles (all of them unless --role/--department)."""
    from db.staff import remove_staff

    user_id = _parse_id(telegram_user_id)
    with open_session() as session:
        removed = remove_staff(
            session=session,
            telegram_user_id=user_id,
            role=role,
            department_key=department,
            actor=default_actor(actor),
        )
    if removed == 0:
        raise fail(f"Error: {user_id} has no such role.")
    typer.echo(f"Removed {removed} role(s) from {user_id}.")


@app.command()
def invite(
    department: str = typer.Argument(..., help="Department key."),
    role: str = typer.Option("staff", "--role", help="staff or coordinator."),
    hours: int = typer.Option(48, "--hours", min=1, help="Hours until the link expires."),
    actor: str | None = ActorOption,
) -> None:
    """Print a one-time Telegram link that makes whoever opens it staff of a department."""
    from db.staff import create_invite, invite_link

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
    typer.echo(f"Valid once, until {created.expires_at:%Y-%m-%d %H:%M} UTC.", err=True)


def register(root: typer.Typer) -> None:
    """Attach `lotsen staff …` to the main command line."""
    root.add_typer(app, name="staff")
