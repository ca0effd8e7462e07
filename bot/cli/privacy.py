"""`lotsen purge`, `export-user`, `erasure-request`, `erase-user`: retention and personal data.

Logic lives in db/privacy/ (retention, personal_data, erasure); this module only
parses and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

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
from db.enquiries.notifications import Channel
from db.plumbing.phrases import N_, DomainError, Phrase

if TYPE_CHECKING:
    from db.privacy.personal_data import UnknownUser

TELEGRAM = "telegram"  # a bare number is a Telegram user id


class BadIdentity(DomainError):
    """A text that names no identity (`channel:address`, or a Telegram user id)."""


def parse_telegram_user_id(value: str) -> int:
    """Return a Telegram user id from text (a whole number ≥ 0), or raise BadIdentity."""
    text = value.strip()
    if not text.isdigit():
        raise BadIdentity(
            N_("{value!r} är inget Telegram-användar-id (ett positivt heltal)."), value=value
        )
    number = int(text)
    if number >= 2**63:
        raise BadIdentity(N_("{value!r} är för stort för ett Telegram-användar-id."), value=value)
    return number


IDENTITY_CHANNELS = tuple(c.value for c in Channel if c != Channel.ERRAND)


def parse_identity(value: str) -> tuple[str, str]:
    """Return (channel, address) from `channel:address` (telegram:123, email:a@b.se, web:<id>,
    console:1) or a bare Telegram user id; raise BadIdentity."""
    text = value.strip()
    channel, colon, address = text.partition(":")
    if not colon:
        return TELEGRAM, str(parse_telegram_user_id(text))
    channel, address = channel.strip().lower(), address.strip()
    if channel not in IDENTITY_CHANNELS:
        raise BadIdentity(
            # Translators: {channels} lists the channel names, e.g. "telegram, console, email, web".
            N_("Okänd kanal {channel!r}; ange en av {channels}, t.ex. email:kassor@forening.se."),
            channel=channel,
            channels=", ".join(IDENTITY_CHANNELS),
        )
    if not address:
        raise BadIdentity(
            N_("{value!r} saknar adress efter kanalen, t.ex. telegram:123."), value=value
        )
    if channel == TELEGRAM:
        address = str(parse_telegram_user_id(address))
    return channel, address.lower() if channel == Channel.EMAIL else address


def _identity(value: str) -> tuple[str, str]:
    try:
        return parse_identity(value)
    except BadIdentity as exc:
        raise refuse(exc) from None


def _unknown(exc: UnknownUser) -> typer.Exit:
    """Refuse an unknown identity (a Telegram user id as the command line always named it)."""
    from db.privacy.personal_data import NOTHING_HELD

    if exc.channel != TELEGRAM:
        return refuse(exc)
    message = (
        N_("Inga uppgifter finns sparade om Telegram-användaren {user_id}.")
        if exc.phrase.message == NOTHING_HELD
        else N_("Det finns ingen föreningsanvändare med Telegram-id {user_id}.")
    )
    return refuse(Phrase(message, {"user_id": exc.address}))


IDENTITY_HELP = (
    "The person's identity as channel:address (telegram:123, email:kassor@forening.se, "
    "web:<visitor>, console:1); a bare number is a Telegram user id."
)


def purge_command(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be purged."),
) -> None:
    """Apply the retention periods now (the bot also does this daily)."""
    from db.privacy.retention import run_purge

    settings = settings_or_exit()
    report = run_purge(settings, dry_run=dry_run)
    echo_report(report.lines())


def export_user_command(
    identity: str = typer.Argument(..., help=IDENTITY_HELP),
    out: Path | None = typer.Option(None, "--out", help="Write the JSON to this file."),
) -> None:
    """Export everything held about a person (by any identity) as JSON (register extract)."""
    from db.privacy.personal_data import UnknownUser, export_identity

    channel, address = _identity(identity)
    settings = settings_or_exit()
    with open_session(settings) as session:
        try:
            data = export_identity(
                session=session, channel=channel, address=address, tracker_url=settings.tracker_url
            )
        except UnknownUser as exc:
            raise _unknown(exc) from None
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
    identity: str = typer.Argument(..., help=IDENTITY_HELP),
    note: str | None = typer.Option(None, "--note", help="How and when the request came in."),
    actor: str | None = typer.Option(
        None, "--actor", help="Who registers it (default: cli:<user>)."
    ),
) -> None:
    """Register a request to erase a user's data as a task in the coordinator's queue."""
    from db.privacy.erasure import request_erasure
    from db.privacy.personal_data import UnknownUser

    channel, address = _identity(identity)
    settings = settings_or_exit()
    with open_session(settings) as session:
        try:
            request = request_erasure(
                session=session,
                channel=channel,
                address=address,
                actor=default_actor(actor),
                note=note,
            )
        except UnknownUser as exc:
            raise _unknown(exc) from None
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
    identity: str = typer.Argument(..., help=IDENTITY_HELP),
    confirm: bool = typer.Option(False, "--confirm", help="Required: the erasure is decided."),
    actor: str | None = typer.Option(None, "--actor", help="Who decided (default: cli:<user>)."),
) -> None:
    """Carry out a decided erasure: texts anonymised, updates and Rasa history deleted."""
    from db.privacy.erasure import erase_identity
    from db.privacy.personal_data import UnknownUser

    channel, address = _identity(identity)
    if not confirm:
        message = t(
            cli_language(),
            "Raderar inte utan --confirm (raderingen går inte att ångra); inget ändrades.",
        )
        raise fail(message, 2)
    settings = settings_or_exit()
    with open_session(settings) as session:
        try:
            report = erase_identity(
                session=session,
                channel=channel,
                address=address,
                actor=default_actor(actor),
                tracker_url=settings.tracker_url,
            )
        except UnknownUser as exc:
            raise _unknown(exc) from None
    echo_report(report.lines())


def register(app: typer.Typer) -> None:
    """Attach the privacy and retention commands."""
    app.command("purge")(purge_command)
    app.command("export-user")(export_user_command)
    app.command("erasure-request")(erasure_request_command)
    app.command("erase-user")(erase_user_command)
