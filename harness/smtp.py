"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for e-mail tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from pydantic import SecretStr

from bot.settings import Settings
from harness.ports import free_port

DESK_URL = "http://desk.test"
LINK_SECRET = "test-link-secret"


@dataclass
class Inbox:
    """The SMTP server's side: every message it accepted, and addresses it refuses."""

    received: list[EmailMessage] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply, e.g. "550 …"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        """Refuse the addresses the test names, accept the others."""
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message as it arrived."""
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Return the messages sent to one address."""
        return [m for m in self.received if m["To"] == address]


class SmtpServer:
    """aiosmtpd on a fixed loopback port that can be stopped and started again (an outage)."""

    def __init__(self, port: int | None = None, **options: Any) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self.options = options  # aiosmtpd's: tls_context, require_starttls, authenticator, …
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen (again) on the port."""
        for _ in range(50):
            try:
                controller = Controller(
                    self.inbox, hostname="127.0.0.1", port=self.port, **self.options
                )
                controller.start()
            except (OSError, RuntimeError):
                time.sleep(0.1)  # the port is still being released after a stop
                continue
            self._controller = controller
            return
        raise AssertionError(f"the SMTP server could not listen on port {self.port}")

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self, database_url: str, **overrides: Any) -> Settings:
        """Return settings that send e-mail to this server (no STARTTLS: a local relay)."""
        values: dict[str, Any] = {
            "database_url": database_url,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "smtp_starttls": False,
            "smtp_from": "Lotsen <lotsen@storasa.example>",
            "smtp_timeout_seconds": 5.0,
            "link_secret": SecretStr(LINK_SECRET),
            "desk_base_url": DESK_URL,
            "_env_file": None,
        }
        values.update(overrides)
        return Settings(**values)


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """Run a loopback SMTP server for the block."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def body(message: EmailMessage, subtype: str = "plain") -> str:
    """Return the plain-text (or HTML) part of a received message."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content
