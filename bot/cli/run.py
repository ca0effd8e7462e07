"""`lotsen run`, `lotsen chat`, `lotsen bot`, `lotsen actions`: start the services."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import cli_language, configure_logging, fail, settings_or_exit
from bot.i18n import nt, t, translate
from bot.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web
    from sqlalchemy.engine import Engine

    from bot.processes.supervisor import Supervisor
    from bot.services import Services


def _start_services(settings: Settings, *, bot_workers: int = 0) -> Supervisor:
    from bot.processes.supervisor import StartError, Supervisor

    supervisor = Supervisor(
        settings,
        report=lambda line: typer.echo(f"[lotsen] {line}", err=True),
        bot_workers=bot_workers,
    )
    # Translators: the action server runs Lotsen's own steps for Rasa (a technical name).
    starting = t(
        cli_language(), "[lotsen] startar action-servern och Rasa (det tar ungefär en minut)…"
    )
    typer.echo(starting, err=True)
    try:
        supervisor.start()
    except StartError as exc:
        supervisor.stop()
        raise fail(t(cli_language(), "Kunde inte starta: {problem}", problem=exc)) from None
    return supervisor


def _email_notice(settings: Settings, engine: Engine) -> None:
    """Say once at the start whether e-mail goes out, or how much of it waits."""
    from bot.channels.email.outbox import waiting_mail

    language = cli_language()
    if settings.email_enabled:
        line = t(
            language,
            "[lotsen] e-post till förvaltningarna går via {host}:{port}",
            host=settings.smtp_host,
            port=settings.smtp_port,
        )
    else:
        waiting = waiting_mail(engine)
        if not waiting:
            return
        # Translators: SMTP_HOST is a setting's name; keep it as it is.
        line = nt(
            language,
            "[lotsen] e-posten är avstängd (SMTP_HOST saknas): {count} e-post väntar i utkorgen",
            "[lotsen] e-posten är avstängd (SMTP_HOST saknas): {count} e-post väntar i utkorgen",
            waiting,
        )
    typer.echo(line, err=True)


def _reach_notice(settings: Settings, engine: Engine) -> None:
    """Name at the start every department nobody can reach, and why (as `routes check`)."""
    from db.enquiries.reach import unreachable_problems
    from db.plumbing.session import session_scope

    with session_scope(engine) as session:
        problems = unreachable_problems(session=session, email_enabled=settings.email_enabled)
    language = cli_language()
    for problem in problems:
        typer.echo(f"[lotsen] {translate(language, problem)}", err=True)


Job = Callable[[Settings, "Engine", asyncio.Event], Coroutine[Any, Any, None]]


@contextlib.asynccontextmanager
async def _running(job: Job, settings: Settings, engine: Engine) -> AsyncIterator[None]:
    """Run a dispatcher while the block runs; stop it (and wait a little) when the block ends."""
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(job(settings, engine, stop))
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=30)


@contextlib.asynccontextmanager
async def _dispatchers(settings: Settings, engine: Engine) -> AsyncIterator[None]:
    """Send the outbox's e-mail and file new enquiries as errands while the block runs.

    Each does nothing while it is switched off (SMTP_HOST; the ERRAND_* address; e-mail in:
    INBOUND_SMTP_PORT and IMAP_HOST).
    """
    from bot.channels.email.outbox import run_email
    from bot.channels.email.receive import run_inbound
    from bot.channels.errand.dispatcher import run_errands

    await asyncio.to_thread(_email_notice, settings, engine)
    await asyncio.to_thread(_reach_notice, settings, engine)
    async with (
        _running(run_email, settings, engine),
        _running(run_errands, settings, engine),
        _running(run_inbound, settings, engine),
    ):
        yield


def _web_chat_notice(settings: Settings) -> None:
    """Say where the web chat is (the page associations use on the municipality's site)."""
    # Translators: the web chat is the page where associations ask their questions.
    where = t(
        cli_language(),
        "[lotsen] webbchatten för föreningar: {url}/chatt",
        url=settings.desk_url,
    )
    typer.echo(where, err=True)
    from bot.cli.desk import demo_account_lines

    for line in demo_account_lines(settings):
        typer.echo(line, err=True)


def _webchat_mount(services: Services) -> Callable[[web.Application], None]:
    from bot.channels.webchat.app import mount_webchat

    return lambda app: mount_webchat(app, services)


async def _chat(settings: Settings) -> None:
    from bot.channels.console import read_stdin, run_console
    from bot.channels.desk.app import start_desk
    from bot.services import create_services

    services = create_services(settings)
    desk = await start_desk(settings, services.engine, mount=_webchat_mount(services))
    # Translators: the desk is the web page for staff.
    where = t(
        cli_language(),
        "[lotsen] skrivbordet och den offentliga rapporten: http://127.0.0.1:{port}/rapport",
        port=settings.web_port,
    )
    typer.echo(where, err=True)
    _web_chat_notice(settings)
    try:
        async with _dispatchers(settings, services.engine):
            await run_console(services, read_stdin, typer.echo)
    finally:
        await desk.cleanup()
        await services.aclose()


async def _bot_until_signal(settings: Settings, *, desk: bool = False) -> None:
    from bot.channels.desk.app import start_desk
    from bot.channels.telegram.app import run_bot

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from bot.services import create_services

    services = create_services(settings)
    engine = services.engine
    runner = await start_desk(settings, engine, mount=_webchat_mount(services)) if desk else None
    if runner is not None:
        _web_chat_notice(settings)
    try:
        async with _dispatchers(settings, engine):
            await run_bot(settings, stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        await services.aclose()


async def _desk_until_signal(settings: Settings) -> None:
    """Serve the desk until SIGINT or SIGTERM (the bot runs in its worker processes)."""
    from bot.channels.desk.app import start_desk

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from bot.services import create_services

    services = create_services(settings)
    runner = await start_desk(settings, services.engine, mount=_webchat_mount(services))
    _web_chat_notice(settings)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await services.aclose()


def _run(settings: Settings, *, console: bool) -> None:
    # With BOT_WORKERS>1 the bot runs in supervised worker processes sharing the webhook port.
    workers = settings.bot_workers if not console and settings.bot_workers > 1 else 0
    supervisor = _start_services(settings, bot_workers=workers)
    try:
        if console:
            asyncio.run(_chat(settings))
        else:
            mode = f"{settings.telegram_mode} × {workers}" if workers else settings.telegram_mode
            # Translators: {mode} is polling or webhook.
            running = t(
                cli_language(),
                "[lotsen] Telegram-boten är igång ({mode}); Ctrl-C avslutar.",
                mode=mode,
            )
            typer.echo(running, err=True)
            if workers:
                asyncio.run(_desk_until_signal(settings))
            else:
                asyncio.run(_bot_until_signal(settings, desk=True))
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo(t(cli_language(), "[lotsen] avslutar…"), err=True)
        supervisor.stop()


def run() -> None:
    """Start everything: Telegram bot with TELEGRAM_BOT_TOKEN, else the console chat."""
    settings = settings_or_exit()
    configure_logging(settings)
    _run(settings, console=settings.token is None)


def chat() -> None:
    """Chat as an association in the terminal (starts Rasa and the action server if needed)."""
    settings = settings_or_exit()
    _run(settings, console=True)


def bot() -> None:
    """Run only the Telegram bot (Rasa and the action server must already be running)."""
    settings = settings_or_exit()
    configure_logging(settings)
    if not settings.token:
        raise fail(
            t(
                cli_language(),
                "TELEGRAM_BOT_TOKEN är inte satt; prova Lotsen utan Telegram med `lotsen chat`.",
            )
        )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_bot_until_signal(settings))


def actions() -> None:
    """Run only the Rasa action server (in this environment)."""
    import os

    from bot.understanding import rasa_env

    settings = settings_or_exit()
    command = rasa_env.action_server_command(settings)
    os.execv(command[0], command)


def rasa(
    replica: int = typer.Option(1, "--replica", min=1, help="Which of RASA_REPLICAS (1, 2, …)."),
) -> None:
    """Run only one Rasa server: replica N listens on RASA_PORT+N-1 (for systemd units)."""
    import os

    from bot.understanding import rasa_env

    settings = settings_or_exit()
    if replica > settings.rasa_replicas:
        # Translators: {replicas} is how many Rasa servers RASA_REPLICAS asks for.
        missing = t(
            cli_language(),
            "--replica {replica} finns inte: RASA_REPLICAS={replicas}",
            replica=replica,
            replicas=settings.rasa_replicas,
        )
        raise fail(missing)
    try:
        command = rasa_env.server_command(settings, replica - 1)
    except rasa_env.RasaUnavailable as exc:
        raise fail(str(exc)) from None
    env = {**rasa_env.rasa_env(), "TICKET_LOCK_LIFETIME": str(rasa_env.lock_lifetime(settings))}
    os.execve(command[0], command, env)


def train(
    force: bool = typer.Option(False, "--force", help="Train even if nothing changed."),
) -> None:
    """Train the Rasa model if the training data changed since the last training."""
    from bot.understanding import rasa_env

    settings = settings_or_exit()
    try:
        ran = rasa_env.train(settings, force=force)
    except rasa_env.RasaUnavailable as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        raise fail(t(cli_language(), "Träningen misslyckades: {problem}", problem=exc)) from None
    if ran:
        typer.echo(t(cli_language(), "Modellen är tränad."))
    else:
        typer.echo(t(cli_language(), "Modellen är aktuell; det finns inget att träna."))


def register(app: typer.Typer) -> None:
    """Add the commands that start services."""
    app.command()(run)
    app.command()(chat)
    app.command()(bot)
    app.command()(actions)
    app.command()(rasa)
    app.command()(train)
