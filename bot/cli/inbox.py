"""`lotsen inbox list|retry|drop`: the Telegram updates that kept failing (dead letters).

Logic lives in db/enquiries/inbox.py (what an update says: bot/channels/telegram/updates.py);
this module only parses and prints. The running bot picks a retried update up at its next
round (at the latest after one long poll).
"""

from __future__ import annotations

import typer

from bot.cli.common import ActorOption, cli_language, default_actor, open_session, refuse
from bot.i18n import t

inbox_app = typer.Typer(
    help="Telegram updates that kept failing (dead letters).", no_args_is_help=True
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
