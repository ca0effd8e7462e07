"""The `lotsen` command line: one entry point, sub-commands registered from their own modules."""

from __future__ import annotations

import logging
import sys

import typer

from bot.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="lotsen",
    help="Lotsen – en väg in för föreningar till rätt förvaltning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def settings_or_exit() -> Settings:
    """Load the settings, or print one clear line and exit with status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error line to stderr and return the Exit to raise."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def configure_logging(settings: Settings) -> None:
    """Send logs to stderr at the configured level, keeping secrets out of them."""
    from bot.logging_setup import setup_logging

    setup_logging(settings)


def _register() -> None:
    """Attach the sub-command groups."""
    from bot import cli_db, cli_nlu, cli_run

    app.add_typer(cli_db.app, name="db")
    cli_nlu.register(app)
    cli_run.register(app)
    for optional in (
        "bot.cli_routes",
        "bot.cli_staff",
        "bot.cli_queue",
        "bot.cli_privacy",
        "bot.cli_desk",
    ):
        try:
            module = __import__(optional, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != optional:
                raise
            continue
        module.register(app)


def main() -> None:
    """Run the command line."""
    _register()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


logging.getLogger("httpx").setLevel(logging.WARNING)


if __name__ == "__main__":
    main()
