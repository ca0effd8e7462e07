"""`lotsen register …`: the archive export, disposal decisions and marks on records.

Logic lives in db/records (the register, the ERMS export) and db/privacy/disposal.py (the
decisions); this module only parses and prints.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from bot.cli.common import cli_language, default_actor, fail, open_session, refuse, say
from bot.i18n import t
from db.plumbing.phrases import N_, DomainError, Phrase

FORMATS = ("erms",)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        # Translators: {option} is a command-line option such as --from; keep it as it is.
        raise refuse(
            Phrase(N_("{option} måste vara ett datum som 2026-03-31"), {"option": option})
        ) from None


def export_command(
    start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD), local time."),
    end: str = typer.Option(..., "--to", help="Last day (YYYY-MM-DD), included."),
    format_: str = typer.Option("erms", "--format", help="erms: E-ARK CITS ERMS v3 XML."),
    out: Path = typer.Option(..., "--out", help="Write the document to this file."),
) -> None:
    """Export the register of a period for the archive (one case file per enquiry)."""
    from db.records.erms import export

    if format_ not in FORMATS:
        raise refuse(
            Phrase(N_("Okänt format {format}; känt: {known}"), {"format": format_, "known": "erms"})
        )
    first, last = _day(start, "--from"), _day(end, "--to")
    with open_session() as session:
        try:
            document = export(session=session, start=first, end=last)
        except DomainError as exc:
            raise refuse(exc) from None
    try:
        out.write_bytes(document)
    except OSError as exc:
        message = t(cli_language(), "Fel: kan inte skriva {file}: {problem}", file=out, problem=exc)
        raise fail(message) from None
    typer.echo(t(cli_language(), "Skrev {file}.", file=out))


def decision_add_command(
    reference: str = typer.Option(..., "--reference", help='E.g. "KS 2026/123 § 45".'),
    decided: str = typer.Option(..., "--date", help="The day it was decided (YYYY-MM-DD)."),
    covers: str = typer.Option(
        ...,
        "--covers",
        help="Kinds of data and the days each is kept, e.g. enquiry_texts=730,inbox=30. "
        "Kinds: enquiry_texts, inbox, outbox, audit, tracker, desk_sign_ins, feedback_comments.",
    ),
    note: str = typer.Option("", "--note", help="What the decision says, in a few words."),
    actor: str | None = typer.Option(None, "--actor", help="Who records it (default: cli:<user>)."),
) -> None:
    """Record a disposal decision (gallringsbeslut): only what one covers is ever purged."""
    from db.privacy.disposal import parse_covers, record_decision

    day = _day(decided, "--date")
    with open_session() as session:
        try:
            decision = record_decision(
                session=session,
                reference=reference,
                decided_on=day,
                covers=parse_covers(covers),
                note=note,
                actor=default_actor(actor),
            )
        except DomainError as exc:
            raise refuse(exc) from None
        line = t(
            cli_language(),
            "Beslut {reference} ({day}) registrerat.",
            reference=decision.reference,
            day=decision.decided_on.isoformat(),
        )
    typer.echo(line)


def decision_list_command() -> None:
    """List the disposal decisions and the latest disposals made under them."""
    from db.privacy.disposal import decisions, disposals, kind_phrase

    language = cli_language()
    with open_session() as session:
        found = decisions(session=session)
        if not found:
            typer.echo(
                t(
                    language,
                    "Inga gallringsbeslut registrerade: `lotsen purge` gallrar ingenting.",
                )
            )
        for decision in found:
            typer.echo(f"{decision.reference}  {decision.decided_on.isoformat()}  {decision.note}")
            for kind, days in sorted(decision.covers.items()):
                what = say(kind_phrase(kind))
                typer.echo("  " + t(language, "{what}: {days} dagar", what=what, days=days))
        latest = disposals(session=session, limit=20)
        if latest:
            typer.echo(t(language, "Senaste gallringar:"))
        for entry, reference in latest:
            what = say(kind_phrase(entry.kind))
            typer.echo(
                "  "
                + t(
                    language,
                    "{moment}: {what}, {count} st., enligt {reference}",
                    moment=entry.at.isoformat(timespec="seconds"),
                    what=what,
                    count=entry.count,
                    reference=reference,
                )
            )


def mark_command(
    reference: str = typer.Argument(..., help="The enquiry's reference, e.g. LOT-2026-00042."),
    personal_data: bool = typer.Option(
        False, "--personal-data/--no-personal-data", help="The text holds personal data."
    ),
    secret: bool = typer.Option(False, "--secret/--no-secret", help="It may be secret."),
    actor: str | None = typer.Option(None, "--actor", help="Who marks it (default: cli:<user>)."),
) -> None:
    """Mark what the register holds back about an enquiry's text."""
    from db.enquiries.crud import enquiry_by_reference
    from db.records.register import mark

    with open_session() as session:
        enquiry = enquiry_by_reference(session=session, reference=reference.strip().upper())
        if enquiry is None:
            raise refuse(
                Phrase(N_("Inget ärende med nummer {reference}."), {"reference": reference})
            )
        mark(
            session=session,
            enquiry=enquiry,
            personal_data=personal_data,
            secret=secret,
            actor=default_actor(actor),
        )
    typer.echo(t(cli_language(), "Ärende {reference} är markerat.", reference=reference))


def private_person_command(
    association: str = typer.Argument(..., help='The association\'s name, or its number "#12".'),
    off: bool = typer.Option(False, "--off", help="It is an organisation after all."),
    actor: str | None = typer.Option(None, "--actor", help="Who says so (default: cli:<user>)."),
) -> None:
    """Say that an association is one private person: the register never publishes its name."""
    from db.records.private_person import find_association, set_private_person

    language = cli_language()
    with open_session() as session:
        try:
            found = find_association(session=session, name_or_id=association)
        except DomainError as exc:
            raise refuse(exc) from None
        set_private_person(
            session=session, association=found, private_person=not off, actor=default_actor(actor)
        )
        if off:
            line = t(
                language, "{name} (#{number}) är en förening.", name=found.name, number=found.id
            )
        else:
            line = t(
                language,
                "{name} (#{number}) är en privatperson: diariet visar aldrig namnet.",
                name=found.name,
                number=found.id,
            )
    typer.echo(line)


def register(app: typer.Typer) -> None:
    """Attach `lotsen register`."""
    group = typer.Typer(
        help="The register (diarium): archive export, disposal decisions.", no_args_is_help=True
    )
    group.command("export")(export_command)
    group.command("mark")(mark_command)
    group.command("private-person")(private_person_command)
    decision = typer.Typer(help="Disposal decisions (gallringsbeslut).", no_args_is_help=True)
    decision.command("add")(decision_add_command)
    decision.command("list")(decision_list_command)
    group.add_typer(decision, name="decision")
    app.add_typer(group, name="register")
