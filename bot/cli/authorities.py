"""`lotsen authorities …`: the table of other authorities (logic: db/routing/authorities.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import (
    ActorOption,
    cli_language,
    default_actor,
    fail,
    open_session,
    write_out,
)
from bot.cli.routes import DomainOption, _intents, import_file
from bot.i18n import t

app = typer.Typer(
    help="Other authorities: whom a question that is not the municipality's is referred to.",
    no_args_is_help=True,
)


def _names(values: list[str]) -> dict[str, str]:
    """Turn `--name sv=Skatteverket` options into {language: name}."""
    names: dict[str, str] = {}
    for value in values:
        language, sep, name = value.partition("=")
        if not sep or not language.strip():
            # Translators: {value} is what was given to --name; keep "--name sv=…" as it is.
            message = t(
                cli_language(),
                "Fel: --name ska skrivas som språk=namn, till exempel --name sv=Skatteverket, "
                "inte {value!r}",
                value=value,
            )
            raise fail(message, 2)
        names[language.strip().lower()] = name.strip()
    return names


@app.command("list")
def list_command() -> None:
    """Show every authority with its website, phone and intents."""
    from db.routing.authorities import list_authorities, name_in

    language = cli_language()
    with open_session() as session:
        rows = list_authorities(session=session)
        for authority in rows:
            # Translators: a line of `lotsen authorities list`; keep the widths (:20, :28).
            line = t(
                language,
                "{key:20} {name:28} {website} tel {phone}  ämnen={intents}",
                key=authority.key,
                name=name_in(authority, "sv"),
                website=authority.website or "-",
                phone=authority.phone or "-",
                intents=", ".join(authority.intents) or "-",
            )
            typer.echo(line)
    if not rows:
        typer.echo(t(language, "Inga myndigheter finns i tabellen."))


@app.command("set")
def set_command(
    key: str = typer.Argument(..., help="The authority's key, e.g. skatteverket."),
    name: list[str] = typer.Option(
        [], "--name", help="Name in a language: --name sv=Skatteverket (repeatable; '' removes)."
    ),
    handles: str | None = typer.Option(None, "--handles", help="What it handles (for staff)."),
    website: str | None = typer.Option(None, "--website", help="Web address ('' clears)."),
    phone: str | None = typer.Option(None, "--phone", help="Switchboard number ('' clears)."),
    intent: list[str] = typer.Option(
        [], "--intent", help="An intent that means a question for it (repeatable; replaces)."
    ),
    actor: str | None = ActorOption,
    domain: Path = DomainOption,
) -> None:
    """Create or change an authority (a new one needs --name sv=…)."""
    from db.routing.authorities import set_authority

    changes: dict[str, object] = {}
    if name:
        changes["names"] = _names(name)
    for field, value in (("handles", handles), ("website", website), ("phone", phone)):
        if value is not None:
            changes[field] = value
    if intent:
        changes["intents"] = intent
    intents = _intents(domain)
    with open_session() as session:
        set_authority(
            session=session,
            key=key,
            changes=changes,
            actor=default_actor(actor),
            domain_intents=intents,
        )
    typer.echo(t(cli_language(), "Myndigheten {key} är sparad.", key=key))


@app.command("remove")
def remove_command(key: str = typer.Argument(...), actor: str | None = ActorOption) -> None:
    """Delete an authority (its questions then go to the coordinator)."""
    from db.routing.authorities import remove_authority

    with open_session() as session:
        remove_authority(session=session, key=key, actor=default_actor(actor))
    typer.echo(t(cli_language(), "Myndigheten {key} är borttagen.", key=key))


@app.command("export")
def export_command(
    file: Path = typer.Argument(..., help="YAML file to write ('-': stdout)."),
) -> None:
    """Write the whole table of authorities to a YAML file."""
    from db.routing.authorities import dump_authorities, export_authorities

    with open_session() as session:
        text = dump_authorities(export_authorities(session=session))
    if write_out(file, text):
        typer.echo(t(cli_language(), "Myndigheterna är exporterade till {file}.", file=file))


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="YAML file written by `authorities export`."),
    actor: str | None = ActorOption,
    domain: Path = DomainOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and show changes only."),
) -> None:
    """Check the whole file, then make the table match it (nothing changes on any error)."""
    from db.routing.authorities import import_authorities

    import_file(file, actor=actor, domain=domain, dry_run=dry_run, importer=import_authorities)


@app.command()
def history(limit: int = typer.Option(50, "--limit", min=1, help="How many rows.")) -> None:
    """Show the newest changes to the table of authorities first."""
    from bot.cli.routes import history as routes_history
    from db.routing.authorities import AUDIT_ENTITY

    routes_history(limit=limit, entity=AUDIT_ENTITY)


def register(root: typer.Typer) -> None:
    """Attach `lotsen authorities …` to the main command line."""
    root.add_typer(app, name="authorities")
