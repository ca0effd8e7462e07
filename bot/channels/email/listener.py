"""The SMTP listener the municipality's mail gateway relays to (INBOUND_SMTP_PORT; off unset).

It runs on the bot's event loop (aiosmtpd's protocol on `loop.create_server`). It accepts mail
for INBOUND_ADDRESS and the reply addresses (`svar+…@` its domain) and refuses other recipients
(550), so it is no open relay. A mail is committed before the listener answers `250`: a crash
before that makes the gateway deliver it again, and the Message-ID keeps it one mail. It is
handled after the answer (on the same loop), so the gateway never waits for the routing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP

from bot.channels.email.inbound import Inbound
from bot.channels.email.reply_address import is_reply_address

log = logging.getLogger(__name__)


class Handler:
    """aiosmtpd's handler: who may receive mail here, and what happens to it."""

    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound
        self.tasks: set[asyncio.Task[Any]] = set()
        self.turn = asyncio.Lock()  # mails are handled one at a time, in the order received

    def accepts(self, address: str) -> bool:
        """Tell whether mail to an address is for Lotsen."""
        settings = self.inbound.settings
        inbound = (settings.inbound_address or "").strip().lower()
        lowered = address.strip().lower()
        return lowered == inbound or is_reply_address(settings, lowered)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        """Accept Lotsen's addresses, refuse every other (no relaying)."""
        if not self.accepts(address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Commit the mail, answer 250, then handle it."""
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            mail_id = await asyncio.to_thread(
                self.inbound.store, raw, "smtp", list(envelope.rcpt_tos)
            )
        except Exception:
            log.exception("Inbound e-mail could not be stored; the gateway will try again")
            return "451 4.3.0 Cannot store the message now, try again later"
        task = asyncio.create_task(self._handle(mail_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return "250 2.0.0 Message accepted"

    async def _handle(self, mail_id: int) -> None:
        async with self.turn:
            await self.inbound.handle(mail_id)


async def serve_smtp(inbound: Inbound, stop: asyncio.Event) -> None:
    """Listen on INBOUND_SMTP_HOST:INBOUND_SMTP_PORT until `stop` is set (nothing while unset)."""
    settings = inbound.settings
    if settings.inbound_smtp_port is None:
        return
    handler = Handler(inbound)
    loop = asyncio.get_running_loop()
    limit = settings.inbound_max_bytes * 4  # up to this, a mail too big is answered politely
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=limit, enable_SMTPUTF8=True, decode_data=False),
        host=settings.inbound_smtp_host,
        port=settings.inbound_smtp_port,
    )
    log.info("SMTP listener on %s:%s", settings.inbound_smtp_host, settings.inbound_smtp_port)
    await inbound.recover()
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        if handler.tasks:
            await asyncio.gather(*handler.tasks, return_exceptions=True)
