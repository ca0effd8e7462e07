"""`lotsen routes …`: the staff-maintained routing table (logic lives in db/routing_table.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from bot.cli.common import ActorOption, default_actor, fail, open_session, say
from bot.settings import PROJECT_ROOT

app = typer.Typer(help="Routing table: routes, contacts, absences, audit.", no_args_is_help=True)

DOMAIN_DEFAULT = PROJECT_ROOT / "domain.yml"
DomainOption = typer.Option(DOMAIN_DEFAULT, "--domain", help="Rasa domain file with the intents.")


def _intents(domain: Path) -> list[str]:
    from db.routing_table import DomainError, load_domain_intents

    try:
        return load_domain_intents(domain)
    except DomainError as exc:
        raise fail(f"Error: {exc}", 2) from None


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise fail(f"Error: {option} must be a date like 2026-07-01, not {value!r}", 2) from None


@app.command("list")
def list_routes() -> None:
    """Show every route with the department and who answers today."""
    from db.crud import active_contact
    from db.routing_table import list_table, local_day

    with open_session() as session:
        contacts: dict[str, str] = {}
        for route, department in list_table(session=session):
            if department.key not in contacts:
                who = active_contact(session=session, department=department)
                label = f"{who.role} <{who.email or who.phone or '-'}>" if who else "NO CONTACT"
                if who is not None and who.kind == "deputy":
                    label += " (deputy)"
                contacts[department.key] = label
            verified = local_day(route.last_verified_at) if route.last_verified_at else "never"
            typer.echo(
                f"{route.intent:32} {department.key:16} {contacts[department.key]}"
                f"  owner={route.owner or '-'} verified={verified}"
            )


@app.command("export")
def export_routes(
    file: Path = typer.Argument(..., help="YAML file to write ('-': stdout)."),
) -> None:
    """Write the whole routing table to a YAML file."""
    from db.routing_table import dump_table, export_table

    with open_session() as session:
        text = dump_table(export_table(session=session))
    if str(file) == "-":
        typer.echo(text, nl=False)
        return
    file.write_text(text, encoding="utf-8")
    typer.echo(f"Exported the routing table to {file}.")


@app.command("import")
def import_routes(
    file: Path = typer.Argument(..., help="YAML file written by `routes export`."),
    actor: str | None = ActorOption,
    domain: Path = DomainOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and show changes only."),
) -> None:
    """Check the whole file, then make the table match it (nothing changes on any error)."""
    from db.routing_table import import_table

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"Error: cannot read {file}: {exc}", 2) from None
    intents = _intents(domain)
    with open_session() as session:
        result = import_table(
            session=session, text=text, actor=default_actor(actor), domain_intents=intents
        )
        if result.ok and dry_run:
            session.rollback()
    if not result.ok:
        for problem in result.problems:
            typer.echo(f"{file}:{problem.line}: {say(problem.message)}", err=True)
        raise fail(f"Nothing imported: {len(result.problems)} problem(s).")
    for change in result.changes:
        typer.echo(change)
    verb = "Would change" if dry_run else "Changed"
    typer.echo(f"{verb} {len(result.changes)} item(s)." if result.changes else "No changes.")


@app.command()
def check(domain: Path = DomainOption) -> None:
    """Find unrouted topic intents, routes to unknown intents and departments without contact."""
    from db.routing_table import check_table

    intents = _intents(domain)
    with open_session() as session:
        problems = check_table(session=session, domain_intents=intents)
    for problem in problems:
        typer.echo(problem)
    if problems:
        raise fail(f"{len(problems)} problem(s) in the routing table.")
    typer.echo("The routing table is complete.")


@app.command()
def overdue() -> None:
    """List routes whose review is overdue, with their owners."""
    from db.routing_table import local_day, overdue_routes

    with open_session() as session:
        rows = overdue_routes(session=session)
    for row in rows:
        verified = (
            "never verified"
            if row.route.last_verified_at is None
            else f"verified {local_day(row.route.last_verified_at)}"
        )
        typer.echo(
            f"{row.route.intent:32} {row.department_key:16} owner={row.route.owner or '-'}"
            f"  {verified}, due {local_day(row.due_at)}"
        )
    typer.echo(f"{len(rows)} route(s) overdue for review.")


@app.command()
def history(
    limit: int = typer.Option(50, "--limit", min=1, help="How many rows."),
    entity: str | None = typer.Option(None, "--entity", help="route, contact, department, …"),
) -> None:
    """Show the newest audit rows first."""
    import json

    from db.audit import history as audit_history

    with open_session() as session:
        rows = audit_history(session=session, limit=limit, entity=entity)
    for row in rows:
        before = json.dumps(row.before, ensure_ascii=False) if row.before else "-"
        after = json.dumps(row.after, ensure_ascii=False) if row.after else "-"
        typer.echo(
            f"{row.at:%Y-%m-%d %H:%M} {row.actor} {row.action} {row.entity} {row.entity_key}"
            f"\n    before: {before}\n    after:  {after}"
        )
    if not rows:
        typer.echo("No audit rows yet.")


@app.command()
def verify(
    intent: str = typer.Argument(..., help="The intent whose route you checked."),
    owner: str | None = typer.Option(None, "--owner", help="Set the route's owner too."),
    actor: str | None = ActorOption,
) -> None:
    """Record that a route is still right (resets its review clock)."""
    from db.routing_table import mark_verified

    with open_session() as session:
        mark_verified(session=session, intent=intent, actor=default_actor(actor), owner=owner)
    typer.echo(f"Route {intent} verified.")


@app.command("set")
def set_route_command(
    intent: str = typer.Argument(...),
    department: str = typer.Argument(..., help="Department key, e.g. kultur_fritid."),
    description: str | None = typer.Option(None, "--description"),
    owner: str | None = typer.Option(None, "--owner"),
    review_days: int | None = typer.Option(None, "--review-days", min=1),
    actor: str | None = ActorOption,
    domain: Path = DomainOption,
) -> None:
    """Send an intent's questions to a department (creates the route if needed)."""
    from db.routing_table import set_route

    intents = _intents(domain)
    with open_session() as session:
        set_route(
            session=session,
            intent=intent,
            department_key=department,
            actor=default_actor(actor),
            domain_intents=intents,
            description=description,
            owner=owner,
            review_interval_days=review_days,
        )
    typer.echo(f"Route {intent} -> {department}.")


@app.command("remove")
def remove_route_command(
    intent: str = typer.Argument(...), actor: str | None = ActorOption
) -> None:
    """Delete a route (its questions then go to the coordinator)."""
    from db.routing_table import remove_route

    with open_session() as session:
        remove_route(session=session, intent=intent, actor=default_actor(actor))
    typer.echo(f"Route {intent} removed.")


@app.command()
def contact(
    department: str = typer.Argument(..., help="Department key."),
    email: str | None = typer.Option(None, "--email", help="Functional mailbox ('' clears)."),
    phone: str | None = typer.Option(None, "--phone", help="Phone number ('' clears)."),
    hours: str | None = typer.Option(None, "--hours", help="Opening hours ('' clears)."),
    role: str | None = typer.Option(None, "--role", help="Function, e.g. Föreningsservice."),
    deputy: bool = typer.Option(False, "--deputy", help="Change the deputy, not the contact."),
    actor: str | None = ActorOption,
) -> None:
    """Change a department's functional contact (or, with --deputy, its deputy)."""
    from db.routing_table import update_contact

    changes = {
        name: value
        for name, value in (("email", email), ("phone", phone), ("hours", hours), ("role", role))
        if value is not None
    }
    if not changes:
        raise fail("Error: give at least one of --email, --phone, --hours, --role.", 2)
    kind = "deputy" if deputy else "contact"
    with open_session() as session:
        update_contact(
            session=session,
            department_key=department,
            kind=kind,
            changes=changes,
            actor=default_actor(actor),
        )
    typer.echo(f"{department} {kind} updated.")


@app.command()
def absent(
    department: str = typer.Argument(..., help="Department key."),
    from_day: str | None = typer.Option(None, "--from", help="First day away (YYYY-MM-DD)."),
    until_day: str | None = typer.Option(None, "--until", help="Last day away (YYYY-MM-DD)."),
    clear: bool = typer.Option(False, "--clear", help="Mark the contact present again."),
    deputy: bool = typer.Option(False, "--deputy", help="The deputy is away, not the contact."),
    actor: str | None = ActorOption,
) -> None:
    """Mark a contact away for some days: the deputy answers meanwhile."""
    from db.routing_table import clear_absence, set_absence

    kind = "deputy" if deputy else "contact"
    if clear and (from_day or until_day):
        raise fail("Error: use either --clear or --from/--until.", 2)
    if not clear and (from_day is None or until_day is None):
        raise fail("Error: give --from and --until (or --clear).", 2)
    start, end = _day(from_day, "--from"), _day(until_day, "--until")
    with open_session() as session:
        if clear:
            clear_absence(
                session=session, department_key=department, actor=default_actor(actor), kind=kind
            )
        else:
            set_absence(
                session=session,
                department_key=department,
                absent_from=start,
                absent_until=end,
                actor=default_actor(actor),
                kind=kind,
            )
    if clear:
        typer.echo(f"{department} {kind} is present again.")
    else:
        typer.echo(f"{department} {kind} away {start} – {end} (inclusive).")


def register(root: typer.Typer) -> None:
    """Attach `lotsen routes …` to the main command line."""
    root.add_typer(app, name="routes")
