"""Send e-mail over SMTP (blocking: call it on a worker thread) and say how each one went."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from bot.channels.email.compose import Mail


@dataclass(frozen=True)
class Server:
    """Where and how to hand mail over: SMTP_HOST, SMTP_PORT, STARTTLS, login, sender."""

    host: str
    port: int
    sender: str
    starttls: bool = True
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0


class ServerUnavailable(Exception):
    """The server could not be reached or refused the session (not any one address's fault)."""


@dataclass(frozen=True)
class Outcome:
    """How one e-mail went: accepted, refused for good (5xx), or refused for now (4xx)."""

    row_id: int
    sent: bool
    permanent: bool = False
    error: str | None = None


def _refusal(row_id: int, code: int, reason: object) -> Outcome:
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return Outcome(row_id, sent=False, permanent=code >= 500, error=f"{code} {text}"[:500])


def _connect(server: Server) -> smtplib.SMTP:
    try:
        client = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
        try:
            client.ehlo()
            if server.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if server.user:
                client.login(server.user, server.password or "")
        except BaseException:
            client.close()
            raise
    except (OSError, smtplib.SMTPException) as exc:
        raise ServerUnavailable(f"{type(exc).__name__}: {exc}"[:500]) from None
    return client


def send_all(server: Server, mails: Sequence[Mail]) -> list[Outcome]:
    """Send the mails over one connection; return an outcome for each one that was tried.

    Raises ServerUnavailable when no session could be opened. When the connection breaks on
    the way, the mails after the one that broke it are not tried (no outcome): they go again.
    """
    outcomes: list[Outcome] = []
    client = _connect(server)
    try:
        for mail in mails:
            try:
                client.send_message(mail.email(server.sender), server.sender, [mail.to])
            except smtplib.SMTPRecipientsRefused as exc:
                code, reason = next(iter(exc.recipients.values()), (550, b"refused"))
                outcomes.append(_refusal(mail.row_id, code, reason))
            except (smtplib.SMTPDataError, smtplib.SMTPResponseException) as exc:
                if isinstance(exc, smtplib.SMTPSenderRefused) or exc.smtp_code == 421:
                    break  # the server refuses us, not this address: everything waits
                outcomes.append(_refusal(mail.row_id, exc.smtp_code, exc.smtp_error))
            except (OSError, smtplib.SMTPException):
                break  # the connection broke: this mail and the rest go again later
            else:
                outcomes.append(Outcome(mail.row_id, sent=True))
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return outcomes
