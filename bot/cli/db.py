"""`lotsen db …`: migrate and seed the database."""

from __future__ import annotations

import typer

from bot.cli.common import cli_language, fail, say, settings_or_exit
from bot.i18n import t

app = typer.Typer(help="Database: migrations and demo data.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database to the newest schema."""
    from db.plumbing.migrate import upgrade as run_upgrade

    settings = settings_or_exit()
    try:
        run_upgrade(settings.database_url, revision)
    except Exception as exc:
        # Translators: {problem} is the database library's own (English) explanation.
        message = t(cli_language(), "Databasen kunde inte migreras: {problem}", problem=exc)
        raise fail(message) from None
    # Translators: {revision} is an Alembic revision id, or "head" (the newest).
    typer.echo(t(cli_language(), "Databasen är på version {revision}.", revision=revision))


@app.command()
def seed() -> None:
    """Load the demo municipality and default routes; never overwrites staff edits."""
    from db.plumbing.session import make_engine, session_scope
    from db.routing.seed import SeedError
    from db.routing.seed import seed as run_seed

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            report = run_seed(
                session=session,
                municipality_file=settings.municipality_file,
                routes_file=settings.routes_file,
                authorities_file=settings.authorities_file,
            )
    except SeedError as exc:
        message = t(cli_language(), "Demodata kunde inte läsas in: {problem}", problem=say(exc))
        raise fail(message) from None
    finally:
        engine.dispose()
    summary = "; ".join(say(part) for part in report.summary())
    # Translators: after `lotsen db seed`; {summary} counts what was added and what was kept.
    typer.echo(t(cli_language(), "Demodata inläst: {summary}.", summary=summary))


def register(root: typer.Typer) -> None:
    """Add `lotsen db …`."""
    root.add_typer(app, name="db")
