"""`lotsen inbox list|retry|drop`: the Telegram updates that kept failing (dead letters);
`lotsen inbox mail|release|drop-mail`: inbound e-mail held for the coordinator or failed.

Logic lives in db/enquiries/inbox.py (what an update says: bot/channels/telegram/updates.py);
this module only parses and prints. The running bot picks a retried update up at its next
round (at the latest after one long poll).
"""

from __future__ import annotations

import typer

from bot.cli.common import ActorOption, cli_language, default_actor, open_session, refuse
from bot.i18n import t

inbox_app = typer.Typer(
    help="Telegram updates that kept failing (dead letters); e-mail held for the coordinator.",
    no_args_is_help=True,
)


@inbox_app.command("list")
def list_command() -> None:
    """List the dead letters, oldest first, with their error and the case recorded for each."""
    from bot.channels.telegram.updates import dead_letters
    from db.enquiries.sla import LOCAL

    language = cli_language()
    with open_session() as session:
        letters = dead_letters(session=session)
    if not letters:
        typer.echo(t(language, "Inkorgen har inga döda poster."))
        return
    for letter in letters:
        row, facts = letter.update, letter.facts
        assert row.dead_at is not None
        typer.echo(
            # Translators: one dead letter: update id, when it was given up, what kind of
            # update it is, its chat, the reference of its case, attempts and the last error.
            t(
                language,
                "{update_id}  {when}  {kind}  chatt {chat}  {reference}  {attempts} försök  "
                "{error}",
                update_id=row.update_id,
                when=row.dead_at.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M"),
                kind=facts.kind or "?",
                chat=facts.chat_id if facts.chat_id is not None else "-",
                reference=letter.reference or "-",
                attempts=row.attempts,
                error=(row.error or "").replace("\n", " ")[:120],
            )
        )


@inbox_app.command("retry")
def retry_command(
    update_id: int = typer.Argument(..., help="The update id (see `lotsen inbox list`)."),
    actor: str | None = ActorOption,
) -> None:
    """Put a dead letter back for processing by the running bot."""
    from db.enquiries.inbox import NotADeadLetter, retry_dead_letter

    with open_session() as session:
        try:
            retry_dead_letter(session=session, update_id=update_id, actor=default_actor(actor))
        except NotADeadLetter as exc:
            raise refuse(exc) from None
    typer.echo(
        t(
            cli_language(),
            "Uppdatering {update_id} hanteras igen av boten (inom en halv minut).",
            update_id=update_id,
        )
    )


@inbox_app.command("drop")
def drop_command(
    update_id: int = typer.Argument(..., help="The update id (see `lotsen inbox list`)."),
    actor: str | None = ActorOption,
) -> None:
    """End a dead letter without processing it (recorded in the audit trail)."""
    from db.enquiries.inbox import NotADeadLetter, drop_dead_letter

    with open_session() as session:
        try:
            drop_dead_letter(session=session, update_id=update_id, actor=default_actor(actor))
        except NotADeadLetter as exc:
            raise refuse(exc) from None
    typer.echo(
        t(
            cli_language(),
            "Uppdatering {update_id} är avslutad utan att hanteras "
            "(lotsen routes history --entity inbox_update visar vem).",
            update_id=update_id,
        )
    )


def register(app: typer.Typer) -> None:
    """Attach the `inbox` group."""
    app.add_typer(inbox_app, name="inbox")


@inbox_app.command("mail")
def mail_command() -> None:
    """List the inbound e-mails held for the coordinator or failed, with the reason."""
    from bot.messages.mail import reason_text
    from db.enquiries.sla import LOCAL
    from db.records.inbound_mail import waiting

    language = cli_language()
    with open_session() as session:
        mails = [
            (m.id, m.received_at, m.state, m.reason, m.sender, m.subject, m.source, m.error)
            for m in waiting(session=session)
        ]
    if not mails:
        typer.echo(t(language, "Ingen e-post hålls kvar."))
        return
    for mail_id, received, state, reason, sender, subject, source, error in mails:
        typer.echo(
            # Translators: one held inbound e-mail: its number, when it came, from whom, its
            # subject, how it came (imap/smtp), whether held or failed, and why.
            t(
                language,
                "{id}  {when}  {sender}  ”{subject}”  ({source}, {state}): {reason}",
                id=mail_id,
                when=received.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M"),
                sender=sender or "–",
                subject=(subject or "–")[:80],
                source=source,
                state=t(language, "kvarhållen") if state == "held" else t(language, "misslyckad"),
                reason=reason_text(reason, language)
                + (f" [{error.splitlines()[-1][:120]}]" if error else ""),
            )
        )


@inbox_app.command("release")
def release_command(
    mail_id: int = typer.Argument(..., help="The mail's number (see `lotsen inbox mail`)."),
    actor: str | None = ActorOption,
) -> None:
    """Let a held e-mail through: the running bot handles it at its next round."""
    from db.records.inbound_mail import NotHeld, release

    with open_session() as session:
        try:
            release(session=session, mail_id=mail_id, actor=default_actor(actor))
        except NotHeld as exc:
            raise refuse(exc) from None
    typer.echo(
        t(
            cli_language(),
            "E-postmeddelande {id} släpps igenom och hanteras av boten.",
            id=mail_id,
        )
    )


@inbox_app.command("drop-mail")
def drop_mail_command(
    mail_id: int = typer.Argument(..., help="The mail's number (see `lotsen inbox mail`)."),
    actor: str | None = ActorOption,
) -> None:
    """Never handle a held e-mail (it is kept as received; the audit trail records who)."""
    from db.records.inbound_mail import NotHeld, drop

    with open_session() as session:
        try:
            drop(session=session, mail_id=mail_id, actor=default_actor(actor))
        except NotHeld as exc:
            raise refuse(exc) from None
    typer.echo(t(cli_language(), "E-postmeddelande {id} släpps inte igenom.", id=mail_id))
