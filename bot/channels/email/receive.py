"""E-mail in, as the bot runs it: the SMTP listener and the IMAP poller on the bot's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.engine import Engine

from bot.channels.email.associations import AssociationMail
from bot.channels.email.department import DepartmentReplies
from bot.channels.email.imap import ImapPoller
from bot.channels.email.inbound import Inbound
from bot.channels.email.listener import serve_smtp
from bot.ratelimit import create_rate_limiter
from bot.services import Services, create_services
from bot.settings import Settings

log = logging.getLogger(__name__)


def inbound_enabled(settings: Settings) -> bool:
    """Tell whether mail comes in at all (the listener's port or an IMAP server is set)."""
    return settings.inbound_smtp_port is not None or bool(
        settings.imap_host and settings.imap_host.strip()
    )


def create_inbound(settings: Settings, engine: Engine, services: Services) -> Inbound:
    """Return the inbound handler of the settings (rate limit per sender address)."""
    return Inbound(
        settings,
        engine,
        departments=DepartmentReplies(settings),
        associations=AssociationMail(services),
        limiter=create_rate_limiter(settings, engine),
    )


async def run_inbound(settings: Settings, engine: Engine, stop: asyncio.Event) -> None:
    """Receive mail until `stop` is set: the listener and/or the poller, as configured."""
    if not inbound_enabled(settings):
        return
    services = create_services(settings)  # the conversation's Rasa client and engine
    inbound = create_inbound(settings, engine, services)
    jobs = [serve_smtp(inbound, stop), _recovering(inbound, stop, settings.imap_poll_seconds)]
    if settings.imap_host and settings.imap_host.strip():
        jobs.append(ImapPoller(inbound).run(stop))
    try:
        await asyncio.gather(*jobs)
    finally:
        if inbound.limiter is not None:
            await inbound.limiter.aclose()
        await services.aclose()


async def _recovering(inbound: Inbound, stop: asyncio.Event, interval: float) -> None:
    """Handle what is stored but unhandled: left by a crash, or released by the coordinator."""
    while not stop.is_set():
        try:
            await inbound.recover()
        except Exception:
            log.exception("Inbound e-mail: recovering stored mail failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
