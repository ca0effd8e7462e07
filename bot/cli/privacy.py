"""`lotsen purge`, `export-user`, `erasure-request`, `erase-user`: retention and personal data.

Logic lives in db/privacy/ (retention, personal_data, erasure); this module only
parses and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bot.cli.common import (
    cli_language,
    default_actor,
    echo_report,
    fail,
    open_session,
    refuse,
    settings_or_exit,
)
from bot.i18n import t


def _user_id(value: str) -> int:
    from db.privacy.personal_data import BadUserId, parse_telegram_user_id

    try:
        return parse_telegram_user_id(value)
    except BadUserId as exc:
        raise refuse(exc) from None


def purge_command(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be purged."),
) -> None:
    """Apply the retention periods now (the bot also does this daily)."""
    from db.privacy.retention import run_purge

    settings = settings_or_exit()
    report = run_purge(settings, dry_run=dry_run)
    echo_report(report.lines())


def export_user_command(
    telegram_user_id: str = typer.Argument(..., help="Numeric Telegram user id."),
    out: Path | None = typer.Option(None, "--out", help="Write the JSON to this file."),
) -> None:
    """Export everything held about a Telegram user as JSON (register extract)."""
    from db.privacy.personal_data import UnknownUser, export_user

    user_id = _user_id(telegram_user_id)
    settings = settings_or_exit()
    with open_session(settings) as session:
        try:
            data = export_user(
                session=session, telegram_user_id=user_id, tracker_url=settings.tracker_url
            )
        except UnknownUser as exc:
            raise refuse(exc) from None
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        message = t(cli_language(), "Fel: kan inte skriva {file}: {problem}", file=out, problem=exc)
        raise fail(message) from None
    typer.echo(t(cli_language(), "Skrev {file}.", file=out))


def erasure_request_command(
    telegram_user_id: str = typer.Argument(..., help="Numeric Telegram user id."),
    note: str | None = typer.Option(None, "--note", help="How and when the request came in."),
    actor: str | None = typer.Option(
        None, "--actor", help="Who registers it (default: cli:<user>)."
    ),
) -> None:
    """Register a request to erase a user's data as a task in the coordinator's queue."""
    from db.privacy.erasure import request_erasure
    from db.privacy.personal_data import UnknownUser

    user_id = _user_id(telegram_user_id)
    settings = settings_or_exit()
    with open_session(settings) as session:
        try:
            request = request_erasure(
                session=session,
                telegram_user_id=user_id,
                actor=default_actor(actor),
                note=note,
            )
        except UnknownUser as exc:
            raise refuse(exc) from None
        reference = request.enquiry.reference
        escalation_id = request.escalation.id
    if request.created:
        # Translators: {reference} is the request's reference number, {id} its queue number.
        message = t(
            cli_language(),
            "Begäran om radering {reference} ligger i samordnarens kö (#{id}).",
            reference=reference,
            id=escalation_id,
        )
    else:
        message = t(
            cli_language(),
            "Det finns redan en öppen begäran om radering: {reference} (#{id}).",
            reference=reference,
            id=escalation_id,
        )
    typer.echo(message)


def erase_user_command(
    telegram_user_id: str = typer.Argument(..., help="Numeric Telegram user id."),
    confirm: bool = typer.Option(False, "--confirm", help="Required: the erasure is decided."),
    actor: str | None = typer.Option(None, "--actor", help="Who decided (default: cli:<user>)."),
) -> None:
    """Carry out a decided erasure: texts anonymised, updates and Rasa history deleted."""
    from db.privacy.erasure import erase_user
    from db.privacy.personal_data import UnknownUser

    user_id = _user_id(telegram_user_id)
    if not confirm:
        message = t(
            cli_language(),
            "Raderar inte utan --confirm (raderingen går inte att ångra); inget ändrades.",
        )
        raise fail(message, 2)
    settings = settings_or_exit()
    with open_session(settings) as session:
        try:
            report = erase_user(
                session=session,
                telegram_user_id=user_id,
                actor=default_actor(actor),
                tracker_url=settings.tracker_url,
            )
        except UnknownUser as exc:
            raise refuse(exc) from None
    echo_report(report.lines())


def register(app: typer.Typer) -> None:
    """Attach the privacy and retention commands."""
    app.command("purge")(purge_command)
    app.command("export-user")(export_user_command)
    app.command("erasure-request")(erasure_request_command)
    app.command("erase-user")(erase_user_command)
