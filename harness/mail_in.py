"""Lotsen's SMTP listener in a test, and a mail gateway's delivery to it (smtplib)."""

from __future__ import annotations

import asyncio
import smtplib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage

from bot.channels.email.inbound import Inbound
from bot.channels.email.listener import serve_smtp
from bot.settings import Settings
from harness.wait import eventually


@asynccontextmanager
async def listening(inbound: Inbound) -> AsyncIterator[None]:
    """Run Lotsen's SMTP listener (INBOUND_SMTP_PORT) for the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve_smtp(inbound, stop))
    port = inbound.settings.inbound_smtp_port
    assert port is not None

    def listens() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    assert await eventually(listens, 10)
    try:
        yield
    finally:
        stop.set()
        await task


def deliver(settings: Settings, message: EmailMessage | bytes, to: str) -> None:
    """Hand a mail to Lotsen's listener as a mail gateway would (blocking: call on a thread)."""
    assert settings.inbound_smtp_port is not None
    with smtplib.SMTP("127.0.0.1", settings.inbound_smtp_port, timeout=10) as client:
        if isinstance(message, bytes):
            client.sendmail("gateway@storasa.example", [to], message)
        else:
            client.send_message(message, "gateway@storasa.example", [to])
