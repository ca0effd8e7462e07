"""`lotsen routes …`: the staff-maintained routing table (logic lives in db/routing/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from sqlmodel import Session

from bot.cli.common import (
    ActorOption,
    cli_language,
    default_actor,
    fail,
    open_session,
    refuse,
    say,
    settings_or_exit,
    write_out,
)
from bot.i18n import nt, pt, t
from bot.settings import PROJECT_ROOT
from db.models import Department

if TYPE_CHECKING:
    from db.routing.importing import ImportResult

app = typer.Typer(help="Routing table: routes, contacts, absences, audit.", no_args_is_help=True)

DOMAIN_DEFAULT = PROJECT_ROOT / "domain.yml"
DomainOption = typer.Option(DOMAIN_DEFAULT, "--domain", help="Rasa domain file with the intents.")


def _intents(domain: Path) -> list[str]:
    from db.routing.routing_file import RasaDomainFileError, load_domain_intents

    try:
        return load_domain_intents(domain)
    except RasaDomainFileError as exc:
        raise refuse(exc, 2) from None


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        # Translators: {option} is --from or --until.
        message = t(
            cli_language(),
            "Fel: {option} ska vara ett datum som 2026-07-01, inte {value!r}",
            option=option,
            value=value,
        )
        raise fail(message, 2) from None


def _contact_label(session: Session, department: Department) -> str:
    """Return who answers for a department today: role and address, or that nobody does."""
    from db.people.departments import active_contact

    language = cli_language()
    who = active_contact(session=session, department=department)
    if who is None:
        # Translators: in `lotsen routes list`, a department nobody answers for.
        return t(language, "INGEN KONTAKT")
    label = f"{who.role} <{who.email or who.phone or '-'}>"
    if who.kind == "deputy":
        # Translators: {contact} is the deputy's role and address (the contact is away).
        return t(language, "{contact} (ersättare)", contact=label)
    return label


@app.command("list")
def list_routes() -> None:
    """Show every route with the department and who answers today."""
    from db.routing.dates import local_day
    from db.routing.export import list_table

    language = cli_language()
    with open_session() as session:
        contacts: dict[str, str] = {}
        for route, department in list_table(session=session):
            if department.key not in contacts:
                contacts[department.key] = _contact_label(session, department)
            verified = (
                str(local_day(route.last_verified_at))
                if route.last_verified_at
                # Translators: in `lotsen routes list`: nobody has verified the route yet.
                else pt(language, "verified", "aldrig")
            )
            # Translators: a line of `lotsen routes list`; keep the widths (:32, :16).
            line = t(
                language,
                "{intent:32} {department:16} {contact}  ägare={owner} kontrollerad={verified}",
                intent=route.intent,
                department=department.key,
                contact=contacts[department.key],
                owner=route.owner or "-",
                verified=verified,
            )
            typer.echo(line)


@app.command("export")
def export_routes(
    file: Path = typer.Argument(..., help="YAML file to write ('-': stdout)."),
) -> None:
    """Write the whole routing table to a YAML file."""
    from db.routing.export import dump_table, export_table

    with open_session() as session:
        text = dump_table(export_table(session=session))
    if write_out(file, text):
        typer.echo(t(cli_language(), "Vägtabellen är exporterad till {file}.", file=file))


@app.command("import")
def import_routes(
    file: Path = typer.Argument(..., help="YAML file written by `routes export`."),
    actor: str | None = ActorOption,
    domain: Path = DomainOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and show changes only."),
) -> None:
    """Check the whole file, then make the table match it (nothing changes on any error)."""
    from db.routing.importing import import_table

    import_file(file, actor=actor, domain=domain, dry_run=dry_run, importer=import_table)


def import_file(
    file: Path,
    *,
    actor: str | None,
    domain: Path,
    dry_run: bool,
    importer: Callable[..., ImportResult],
) -> None:
    """Read a YAML file and import it with `importer` (keyword-only: session, text, actor,
    domain_intents); print its problems with their lines, or its changes and their count."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        message = t(cli_language(), "Fel: kan inte läsa {file}: {problem}", file=file, problem=exc)
        raise fail(message, 2) from None
    intents = _intents(domain)
    with open_session() as session:
        result = importer(
            session=session, text=text, actor=default_actor(actor), domain_intents=intents
        )
        if result.ok and dry_run:
            session.rollback()
    if not result.ok:
        for problem in result.problems:
            typer.echo(f"{file}:{problem.line}: {say(problem.message)}", err=True)
        count = len(result.problems)
        message = nt(
            cli_language(),
            "Inget importerades: {count} problem.",
            "Inget importerades: {count} problem.",
            count,
        )
        raise fail(message)
    for change in result.changes:
        typer.echo(say(change))
    typer.echo(_changed(len(result.changes), dry_run=dry_run))


def _changed(count: int, *, dry_run: bool) -> str:
    """Return the last line of an import: how many items changed (or would change)."""
    language = cli_language()
    if not count:
        return t(language, "Inga ändringar.")
    if dry_run:
        # Translators: after `lotsen routes import --dry-run`: nothing was changed yet.
        return nt(language, "Skulle ändra {count} post.", "Skulle ändra {count} poster.", count)
    return nt(language, "Ändrade {count} post.", "Ändrade {count} poster.", count)


@app.command()
def check(domain: Path = DomainOption) -> None:
    """Find unrouted topics, unknown intents, and departments nobody can reach (no contact, no
    mailbox, or e-mail switched off)."""
    from db.routing.checks import check_table

    intents = _intents(domain)
    settings = settings_or_exit()
    with open_session(settings) as session:
        problems = check_table(
            session=session, domain_intents=intents, email_enabled=settings.email_enabled
        )
    for problem in problems:
        typer.echo(say(problem))
    language = cli_language()
    if problems:
        count = len(problems)
        message = nt(
            language, "{count} problem i vägtabellen.", "{count} problem i vägtabellen.", count
        )
        raise fail(message)
    typer.echo(t(language, "Vägtabellen är komplett."))


@app.command()
def overdue() -> None:
    """List routes whose review is overdue, with their owners."""
    from db.routing.dates import local_day
    from db.routing.review import overdue_routes

    language = cli_language()
    with open_session() as session:
        rows = overdue_routes(session=session)
    for row in rows:
        verified = (
            t(language, "aldrig kontrollerad")
            if row.route.last_verified_at is None
            else t(language, "kontrollerad {day}", day=local_day(row.route.last_verified_at))
        )
        # Translators: a line of `lotsen routes overdue`; keep the widths (:32, :16).
        line = t(
            language,
            "{intent:32} {department:16} ägare={owner}  {verified}, skulle granskas {due}",
            intent=row.route.intent,
            department=row.department_key,
            owner=row.route.owner or "-",
            verified=verified,
            due=local_day(row.due_at),
        )
        typer.echo(line)
    message = nt(
        language,
        "{count} väg har passerat sitt granskningsdatum.",
        "{count} vägar har passerat sitt granskningsdatum.",
        len(rows),
    )
    typer.echo(message)


@app.command()
def history(
    limit: int = typer.Option(50, "--limit", min=1, help="How many rows."),
    entity: str | None = typer.Option(None, "--entity", help="route, contact, department, …"),
) -> None:
    """Show the newest audit rows first."""
    import json

    from db.plumbing.audit import history as audit_history

    with open_session() as session:
        rows = audit_history(session=session, limit=limit, entity=entity)
    language = cli_language()
    for row in rows:
        # Translators: one change in `lotsen routes history`: who did what, then the values
        # before and after it, indented; keep the line breaks and the indentation.
        entry = t(
            language,
            "{at} {actor} {action} {entity} {key}\n    före:  {before}\n    efter: {after}",
            at=row.at.strftime("%Y-%m-%d %H:%M"),
            actor=row.actor,
            action=row.action,
            entity=row.entity,
            key=row.entity_key,
            before=json.dumps(row.before, ensure_ascii=False) if row.before else "-",
            after=json.dumps(row.after, ensure_ascii=False) if row.after else "-",
        )
        typer.echo(entry)
    if not rows:
        typer.echo(t(language, "Inga ändringar har loggats ännu."))


@app.command()
def verify(
    intent: str = typer.Argument(..., help="The intent whose route you checked."),
    owner: str | None = typer.Option(None, "--owner", help="Set the route's owner too."),
    actor: str | None = ActorOption,
) -> None:
    """Record that a route is still right (resets its review clock)."""
    from db.routing.edits import mark_verified

    with open_session() as session:
        mark_verified(session=session, intent=intent, actor=default_actor(actor), owner=owner)
    typer.echo(t(cli_language(), "Vägen {intent} är kontrollerad.", intent=intent))


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
    from db.routing.edits import set_route

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
    typer.echo(
        t(cli_language(), "Vägen {intent} -> {department}.", intent=intent, department=department)
    )


@app.command("remove")
def remove_route_command(
    intent: str = typer.Argument(...), actor: str | None = ActorOption
) -> None:
    """Delete a route (its questions then go to the coordinator)."""
    from db.routing.edits import remove_route

    with open_session() as session:
        remove_route(session=session, intent=intent, actor=default_actor(actor))
    typer.echo(t(cli_language(), "Vägen {intent} är borttagen.", intent=intent))


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
    from db.routing.edits import update_contact

    changes = {
        name: value
        for name, value in (("email", email), ("phone", phone), ("hours", hours), ("role", role))
        if value is not None
    }
    if not changes:
        message = t(cli_language(), "Fel: ange minst en av --email, --phone, --hours, --role.")
        raise fail(message, 2)
    kind = "deputy" if deputy else "contact"
    with open_session() as session:
        update_contact(
            session=session,
            department_key=department,
            kind=kind,
            changes=changes,
            actor=default_actor(actor),
        )
    if deputy:
        typer.echo(
            t(cli_language(), "{department}: ersättaren är uppdaterad.", department=department)
        )
    else:
        typer.echo(
            t(cli_language(), "{department}: kontakten är uppdaterad.", department=department)
        )


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
    from db.routing.absences import clear_absence, set_absence

    kind = "deputy" if deputy else "contact"
    if clear and (from_day or until_day):
        raise fail(t(cli_language(), "Fel: använd antingen --clear eller --from/--until."), 2)
    if not clear and (from_day is None or until_day is None):
        raise fail(t(cli_language(), "Fel: ange --from och --until (eller --clear)."), 2)
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
    typer.echo(_absence_line(department, deputy=deputy, start=start, end=end))


def _absence_line(department: str, *, deputy: bool, start: date | None, end: date | None) -> str:
    """Return the line that confirms an absence (or that the person is back)."""
    language = cli_language()
    if start is None or end is None:
        if deputy:
            return t(language, "{department}: ersättaren är på plats igen.", department=department)
        return t(language, "{department}: kontakten är på plats igen.", department=department)
    values = {"department": department, "start": start, "end": end}
    if deputy:
        # Translators: both days count: the deputy is away from {start} through {end}.
        return t(
            language,
            "{department}: ersättaren är borta {start} – {end} (båda dagarna medräknade).",
            **values,
        )
    # Translators: both days count: the contact is away from {start} through {end}.
    return t(
        language,
        "{department}: kontakten är borta {start} – {end} (båda dagarna medräknade).",
        **values,
    )


def register(root: typer.Typer) -> None:
    """Attach `lotsen routes …` to the main command line."""
    root.add_typer(app, name="routes")
