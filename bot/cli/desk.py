"""`lotsen desk …`: serve the desk web page and manage local desk accounts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import typer
from sqlmodel import Session

from bot.cli.common import (
    ActorOption,
    cli_language,
    configure_logging,
    default_actor,
    fail,
    invalid,
    say,
    settings_or_exit,
)
from bot.i18n import nt, t
from bot.settings import Settings

desk_app = typer.Typer(
    help="The desk: web page for staff and the public report.", no_args_is_help=True
)


async def _serve_until_signal(port: int | None, host: str) -> None:
    from bot.channels.desk.app import start_desk
    from bot.channels.webchat.app import mount_webchat
    from bot.services import create_services

    settings = settings_or_exit()
    if port is not None:
        settings = settings.model_copy(update={"web_port": port})
    configure_logging(settings)
    services = create_services(settings)  # the web chat's conversation asks Rasa
    engine = services.engine
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        runner = await start_desk(
            settings, engine, host=host, mount=lambda app: mount_webchat(app, services)
        )
    except OSError as exc:
        await services.aclose()
        # Translators: {problem} is the operating system's own (English) explanation.
        message = t(
            cli_language(),
            "Kan inte lyssna på {host}:{port}: {problem}",
            host=host,
            port=settings.web_port,
            problem=exc.strerror,
        )
        raise fail(message) from None
    # Translators: the desk is the web page for staff; /rapport is the public report.
    started = t(
        cli_language(),
        "[lotsen] skrivbordet finns på http://{host}:{port}/desk (offentlig rapport: /rapport); "
        "Ctrl-C avslutar.",
        host=host,
        port=settings.web_port,
    )
    typer.echo(started, err=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await services.aclose()


@desk_app.command("serve")
def serve_command(
    port: int | None = typer.Option(None, "--port", help="Port (default: WEB_PORT, 8080)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
) -> None:
    """Serve the desk and the public report until Ctrl-C."""
    if port is not None and not 1 <= port <= 65535:
        raise fail(
            t(cli_language(), "--port ska vara mellan 1 och 65535, inte {port}.", port=port), 2
        )
    asyncio.run(_serve_until_signal(port, host))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    language = cli_language()
    first = typer.prompt(t(language, "Lösenord"), hide_input=True)
    second = typer.prompt(t(language, "Upprepa lösenordet"), hide_input=True)
    if first != second:
        raise fail(t(language, "Lösenorden är olika; inget ändrades."))
    return str(first)


@desk_app.command("add-user")
def add_user_command(
    username: str = typer.Argument(..., help="Login name (a-z, 0-9, . _ -)."),
    role: str = typer.Option(..., "--role", help="coordinator, staff or admin."),
    department: str | None = typer.Option(
        None, "--department", help="Department key (required for staff)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    staff: str | None = typer.Option(
        None,
        "--staff",
        help="The staff person it belongs to: their Telegram user id or email:ADDRESS "
        "(one colleague either way). Default: a new person named after the account.",
    ),
) -> None:
    """Create a local desk account for a machine without Telegram (argon2id password hash)."""
    from bot.channels.desk.accounts import add_account
    from bot.cli.staff import parse_identity
    from db.people.staff_identities import staff_person_for
    from db.plumbing.phrases import DomainError
    from db.plumbing.session import make_engine, session_scope
    from db.plumbing.validation import ValidationProblem

    settings = settings_or_exit()
    try:
        identity = parse_identity(staff) if staff is not None else None
    except ValidationProblem as exc:
        raise invalid(exc, 2) from None
    password = _read_password(password_stdin)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            person = (
                staff_person_for(session=session, channel=identity[0], address=identity[1])
                if identity is not None
                else None
            )
            account = add_account(
                session=session,
                username=username,
                password=password,
                role=role.strip().lower(),
                department_key=department,
                person_id=person.id if person is not None else None,
            )
            name = account.username
    except DomainError as exc:
        raise fail(t(cli_language(), "{problem} Inget ändrades.", problem=say(exc))) from None
    finally:
        engine.dispose()
    # Translators: {role} is coordinator, staff or admin.
    created = t(
        cli_language(), "Skrivbordskontot {name!r} är skapat ({role}).", name=name, role=role
    )
    typer.echo(created)


def _change_account(describe: str, change: Callable[[Session], str]) -> None:
    """Run one account change in a transaction; a refusal is one line and changes nothing."""
    from db.plumbing.phrases import DomainError
    from db.plumbing.session import make_engine, session_scope

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            done = change(session)
    except DomainError as exc:
        raise fail(t(cli_language(), "{problem} Inget ändrades.", problem=say(exc))) from None
    finally:
        engine.dispose()
    # Translators: {what} says what changed, {done} what followed (e.g. sessions ended).
    typer.echo(t(cli_language(), "{what}: {done}", what=describe, done=done))


def _sessions(count: int) -> str:
    return nt(
        cli_language(), "{count} öppen session avslutad", "{count} öppna sessioner avslutade", count
    )


@desk_app.command("disable")
def disable_command(
    username: str = typer.Argument(..., help="The local account's login name."),
    actor: str | None = ActorOption,
) -> None:
    """Refuse an account's sign-ins and end all its sessions for good (audited)."""
    from bot.channels.desk.accounts import disable_account

    who = default_actor(actor)

    def change(session: Session) -> str:
        return _sessions(disable_account(session=session, username=username, actor=who))

    name = username.strip().lower()
    _change_account(t(cli_language(), "Skrivbordskontot {name!r} är avstängt", name=name), change)


@desk_app.command("enable")
def enable_command(
    username: str = typer.Argument(..., help="The local account's login name."),
    actor: str | None = ActorOption,
) -> None:
    """Let a disabled account sign in again; its old sessions stay ended (audited)."""
    from bot.channels.desk.accounts import enable_account

    who = default_actor(actor)

    def change(session: Session) -> str:
        enable_account(session=session, username=username, actor=who)
        return t(cli_language(), "det kan logga in igen (gamla sessioner förblir avslutade)")

    name = username.strip().lower()
    _change_account(t(cli_language(), "Skrivbordskontot {name!r} är påslaget", name=name), change)


@desk_app.command("set-role")
def set_role_command(
    username: str = typer.Argument(..., help="The local account's login name."),
    role: str = typer.Option(..., "--role", help="coordinator, staff or admin."),
    department: str | None = typer.Option(
        None, "--department", help="Department key (required for staff)."
    ),
    actor: str | None = ActorOption,
) -> None:
    """Give an account another role or department; its sessions end (audited)."""
    from bot.channels.desk.accounts import set_account_role

    who = default_actor(actor)

    def change(session: Session) -> str:
        ended = set_account_role(
            session=session,
            username=username,
            role=role.strip().lower(),
            department_key=department,
            actor=who,
        )
        return _sessions(ended)

    name, new_role = username.strip().lower(), role.strip().lower()
    # Translators: {role} is coordinator, staff or admin.
    what = t(cli_language(), "Skrivbordskontot {name!r} är nu {role}", name=name, role=new_role)
    _change_account(what, change)


DEMO_ACCOUNTS = (
    ("demo-samordnare", "coordinator", None),
    ("demo-kultur", "staff", "kultur_fritid"),
)
"""The demo desk accounts `make setup` makes: a coordinator and a culture and leisure clerk."""


def demo_accounts_file(settings: Settings) -> Path:
    """Return where the demo accounts' passwords are kept (readable by this user only)."""
    return settings.var_dir / "demo-accounts.json"


def demo_account_lines(settings: Settings) -> list[str]:
    """Return how to sign in to the desk with each demo account (none: no lines)."""
    path = demo_accounts_file(settings)
    if not path.is_file():
        return []
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    # Translators: a demo account is made for trying Lotsen out; {url} is the sign-in page.
    return [
        t(
            cli_language(),
            "[lotsen] DEMO-konto ({role}): {url}/desk/login – {name} / {password}",
            role=role,
            url=settings.desk_url,
            name=name,
            password=stored[name],
        )
        for name, role, _ in DEMO_ACCOUNTS
        if isinstance(stored, dict) and isinstance(stored.get(name), str)
    ]


@desk_app.command("demo-accounts")
def demo_accounts_command() -> None:
    """Make the demo coordinator and clerk for trying Lotsen locally (never behind HTTPS)."""
    from bot.channels.desk.accounts import add_account, find_account
    from db.plumbing.phrases import DomainError
    from db.plumbing.session import make_engine, session_scope

    settings = settings_or_exit()
    if (settings.desk_base_url or "").lower().startswith("https://"):
        # Translators: DESK_BASE_URL is a setting's name; keep it.
        typer.echo(t(cli_language(), "Inga demokonton: skrivbordet är publicerat (DESK_BASE_URL)."))
        return
    path = demo_accounts_file(settings)
    stored: dict[str, str] = {}
    if path.is_file():
        with contextlib.suppress(OSError, ValueError):
            stored = dict(json.loads(path.read_text(encoding="utf-8")))
    engine = make_engine(settings.database_url)
    try:
        for name, role, department in DEMO_ACCOUNTS:
            with session_scope(engine) as session:
                if find_account(session=session, username=name) is not None:
                    continue
                password = secrets.token_urlsafe(12)
                try:
                    add_account(
                        session=session,
                        username=name,
                        password=password,
                        role=role,
                        department_key=department,
                    )
                except DomainError as exc:
                    typer.echo(say(exc), err=True)
                    continue
                stored[name] = password
    finally:
        engine.dispose()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(stored, file)
    for line in demo_account_lines(settings):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Attach `lotsen desk`."""
    app.add_typer(desk_app, name="desk")
