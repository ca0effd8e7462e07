"""What every command group shares: settings, one-line failures, the session, the actor.

Every word the CLI prints is a catalogue message (Swedish message id), shown in the operator's
language (`cli_language()`): `t(cli_language(), "…", **values)` for the CLI's own sentences,
`say(…)` for the domain's phrases and refusals.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlmodel import Session

from bot.i18n import t, translate
from bot.settings import Settings, SettingsError, load_settings
from db.plumbing.phrases import DomainError, Phrase
from db.plumbing.validation import ValidationProblem

ActorOption = typer.Option(None, "--actor", help="Who makes the change (default: cli:<user>).")


def settings_or_exit() -> Settings:
    """Load the settings, or print one clear line and exit with status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def cli_language() -> str:
    """Return the operator's language: Swedish when the locale says so (LANG=sv_SE…), else en."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "sv" if value.lower().startswith("sv") else "en"
    return "en"


def say(what: Phrase | DomainError) -> str:
    """Return a domain phrase (or a domain refusal's phrase) in the operator's language."""
    phrase = what.phrase if isinstance(what, DomainError) else what
    return translate(cli_language(), phrase)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error line (already in the operator's language) to stderr; return the Exit."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def refuse(what: Phrase | DomainError, code: int = 1) -> typer.Exit:
    """Print "Error: <the domain's reason>" to stderr and return the Exit to raise."""
    return fail(t(cli_language(), "Fel: {problem}", problem=say(what)), code)


def echo_report(lines: Sequence[Phrase]) -> None:
    """Print a domain report: its heading, then its other lines indented under it."""
    for number, line in enumerate(lines):
        typer.echo(("  " if number else "") + say(line))


def configure_logging(settings: Settings) -> None:
    """Send logs to stderr at the configured level, keeping secrets out of them."""
    from bot.logging_setup import setup_logging

    setup_logging(settings)


def default_actor(actor: str | None) -> str:
    """Return the audit name for a CLI change."""
    if actor and actor.strip():
        return actor.strip()
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def invalid(problem: ValidationProblem, code: int = 1) -> typer.Exit:
    """Print "Error: <field>: <why>" for a value that cannot be used; return the Exit."""
    # Translators: {field} is the name of the field or option (email, telegram_user_id, …).
    message = t(
        cli_language(), "Fel: {field}: {problem}", field=problem.field, problem=say(problem)
    )
    return fail(message, code)


@contextmanager
def open_session(settings: Settings | None = None) -> Iterator[Session]:
    """Open one transaction on the configured database; a validation problem is one line."""
    from db.plumbing.session import make_engine, session_scope

    engine = make_engine((settings or settings_or_exit()).database_url)
    try:
        with session_scope(engine) as session:
            yield session
    except ValidationProblem as exc:
        raise invalid(exc) from None
    finally:
        engine.dispose()


def write_out(file: Path, text: str) -> bool:
    """Write an export to `file`, or to stdout for '-'; tell whether a file was written."""
    if str(file) == "-":
        typer.echo(text, nl=False)
        return False
    file.write_text(text, encoding="utf-8")
    return True
