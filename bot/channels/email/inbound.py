"""Inbound e-mail: store it once, then decide what it is and hand it on.

`Inbound.take(raw, source, recipients)` is what the SMTP listener and the IMAP poller call:
the mail is committed to `inbound_mail` (keyed by its Message-ID) before the caller tells the
mailbox it is done, then handled:

- noise (auto-replies, bounces, bulk, our own mail: `filters.py`) is recorded and ignored;
- a mail too big, without text, with an attachment that is no document or picture, or that
  cannot be read is answered politely (or, without a sender to answer, held);
- a reply to a forward (`svar+<token>@…`) becomes the department's answer (`department.py`);
- a mail to INBOUND_ADDRESS is an association's message (`associations.py`).

Handling a mail twice changes nothing twice: the row's state says it was handled, and what
handling wrote is keyed by the mail (the intake's message key, the outbox's dedupe keys).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.email.filters import noise
from bot.channels.email.parse import Incoming, parse
from bot.channels.email.reply_address import is_reply_address
from bot.i18n import LANGUAGES
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from bot.understanding.language import identify as identify_language
from db.enquiries import notifications as notify
from db.enquiries.notifications import STAFF_LANGUAGE, Kind
from db.models import InboundMail, InboundMailState
from db.people.limits import Verdict, person_key
from db.plumbing.session import session_scope
from db.records import inbound_mail

log = logging.getLogger(__name__)

MB = 1024 * 1024


@dataclass(frozen=True)
class Handled:
    """How a mail was handled (for the caller's log and the tests)."""

    state: str
    reason: str | None = None


AssociationHandler = Callable[[InboundMail, Incoming], Awaitable[tuple[str, str | None]]]
DepartmentHandler = Callable[[Session, InboundMail, Incoming], tuple[str, str | None]]


def own_addresses(settings: Settings) -> list[str]:
    """Return Lotsen's own addresses: the sender of its mail and the inbound address."""
    from email.utils import parseaddr

    return [a for a in (parseaddr(settings.smtp_from)[1], settings.inbound_address or "") if a]


def target(settings: Settings, recipients: Sequence[str]) -> str | None:
    """Return the address a mail is for: a reply address, else INBOUND_ADDRESS, else the first."""
    lowered = [r.strip().lower() for r in recipients if r]
    for address in lowered:
        if is_reply_address(settings, address):
            return address
    inbound = (settings.inbound_address or "").strip().lower()
    if inbound and inbound in lowered:
        return inbound
    return lowered[0] if lowered else None


def headers_only(raw: bytes) -> bytes:
    """Return a message's header block (what is kept of a mail above the size limit)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, _ = raw.partition(separator)
        if found:
            return head + separator
    return raw[:65536]


def refuse(
    session: Session, mail: InboundMail, incoming: Incoming, reason: str, settings: Settings
) -> tuple[str, str | None]:
    """Answer the sender politely that the mail was not relayed (once per mail).

    A clerk (a reply to a forward) is answered in Swedish; an association writing to
    INBOUND_ADDRESS in the language its mail is written in, with how to write instead.
    """
    if incoming.sender:
        clerk = is_reply_address(settings, mail.recipient or "")
        written = f"{incoming.subject}\n{incoming.text or ''}"
        audience: dict[str, Any] = (
            {} if clerk else {"audience": "association", "write_to": mail.recipient or ""}
        )
        notify.to_mailbox(
            session=session,
            address=incoming.sender,
            kind=Kind.MAIL_REFUSED,
            language=STAFF_LANGUAGE if clerk else _language_of(written),
            dedupe_key=f"mail_refused:{mail.id}",
            reason=reason,
            subject=(incoming.subject or "–")[:200],
            limit_mb=max(1, settings.inbound_max_bytes // MB),
            **audience,
        )
        return InboundMailState.REFUSED, reason
    return hold(session, mail, incoming, reason)


def _language_of(text: str) -> str:
    """Return the shipped language to answer a text in (Swedish when it cannot be told)."""
    return identify_language(text, saved=STAFF_LANGUAGE, languages=LANGUAGES).reply


def hold(
    session: Session, mail: InboundMail, incoming: Incoming, reason: str
) -> tuple[str, str | None]:
    """Keep a mail for the coordinator, and tell the coordinators so (once per mail)."""
    for channel in (notify.Channel.TELEGRAM, notify.Channel.EMAIL):
        notify.to_coordinators(
            session=session,
            kind=Kind.MAIL_HELD,
            channel=channel,
            dedupe_key=f"mail_held:{mail.id}:{channel}",
            enquiry_id=mail.enquiry_id,
            sender=incoming.sender or "–",
            subject=(incoming.subject or "–")[:200],
            reason=reason,
        )
    return InboundMailState.HELD, reason


class Inbound:
    """Store and handle inbound mail for both ways it arrives (IMAP and the SMTP listener)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        departments: DepartmentHandler,
        associations: AssociationHandler | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.departments = departments
        self.associations = associations
        self.limiter = limiter
        self.busy: set[int] = set()
        """Mails this process is handling now (recovery leaves them to their handler)."""

    def store(
        self, raw: bytes, source: str, recipients: Sequence[str] = (), size: int | None = None
    ) -> int:
        """Commit the mail (once, by its Message-ID) and return its row id.

        A mail above INBOUND_MAX_BYTES is kept as its header only (and answered as too big).
        """
        size = max(size or 0, len(raw))
        big = size > self.settings.inbound_max_bytes
        kept = headers_only(raw) if big else raw
        incoming = parse(kept, tuple(recipients))
        with session_scope(self.engine) as session:
            row, _ = inbound_mail.store(
                session=session,
                key=incoming.key,
                source=source,
                raw=kept,
                sender=incoming.sender,
                recipient=target(self.settings, incoming.recipients),
                subject=incoming.subject[:1000] if incoming.subject else None,
            )
            if big and row.state == InboundMailState.NEW:
                row.size = size
                row.reason = "too_big"
            assert row.id is not None
            return row.id

    async def take(self, raw: bytes, source: str, recipients: Sequence[str] = ()) -> Handled:
        """Store a mail, then handle it; return how it was handled."""
        mail_id = await asyncio.to_thread(self.store, raw, source, recipients)
        return await self.handle(mail_id)

    def _load(self, mail_id: int) -> InboundMail | None:
        with session_scope(self.engine) as session:
            mail = session.get(InboundMail, mail_id)
            if mail is not None:
                session.expunge(mail)
            return mail

    def _finish(
        self,
        mail_id: int,
        decide: Callable[[Session, InboundMail], tuple[str, str | None]],
    ) -> Handled:
        with session_scope(self.engine) as session:
            mail = inbound_mail.claim(session=session, mail_id=mail_id)
            if mail is None:  # handled meanwhile (another poller, a redelivery)
                handled = session.get(InboundMail, mail_id)
                assert handled is not None
                return Handled(handled.state, handled.reason)
            state, reason = decide(session, mail)
            inbound_mail.finish(
                session=session, mail=mail, state=InboundMailState(state), reason=reason
            )
            return Handled(state, reason)

    async def handle(self, mail_id: int) -> Handled:
        """Handle a stored mail (nothing when it was handled already); never raises for a mail."""
        if mail_id in self.busy:
            return Handled(InboundMailState.NEW, "busy")
        self.busy.add(mail_id)
        try:
            mail = await asyncio.to_thread(self._load, mail_id)
            if mail is None or mail.state != InboundMailState.NEW:
                return Handled(mail.state if mail else "missing", mail.reason if mail else None)
            return await self._handle(mail)
        except Exception as exc:
            log.exception("Inbound e-mail %s could not be handled", mail_id)
            return await asyncio.to_thread(self._failed, mail_id, repr(exc))
        finally:
            self.busy.discard(mail_id)

    def _failed(self, mail_id: int, error: str) -> Handled:
        with session_scope(self.engine) as session:
            mail = session.get(InboundMail, mail_id)
            assert mail is not None
            if inbound_mail.failed_attempt(session=session, mail=mail, error=error):
                hold(session, mail, parse(mail.raw), "kept_failing")
                mail.state = InboundMailState.FAILED
            return Handled(mail.state, mail.reason)

    async def _handle(self, mail: InboundMail) -> Handled:
        incoming = parse(mail.raw)
        released = mail.reason == "released"
        reason = noise(incoming, own_addresses(self.settings))
        if reason is not None and not released:
            log.info("Inbound e-mail %s ignored: %s", mail.id, reason)
            return await asyncio.to_thread(
                self._finish, mail.id or 0, lambda s, m: (InboundMailState.IGNORED, reason)
            )
        if mail.reason == "too_big":
            return await self._refused(mail, incoming, "too_big")
        if incoming.problem is not None or incoming.sender is None:
            return await asyncio.to_thread(
                self._finish, mail.id or 0, lambda s, m: hold(s, m, incoming, "malformed")
            )
        if not released and not await self._admitted(mail, incoming):
            return Handled(InboundMailState.REFUSED, "rate_limited")
        recipient = mail.recipient or ""
        if is_reply_address(self.settings, recipient):
            if incoming.text is None:
                return await self._refused(mail, incoming, "empty")
            return await asyncio.to_thread(
                self._finish, mail.id or 0, lambda s, m: self.departments(s, m, incoming)
            )
        if incoming.text is None:
            return await self._refused(mail, incoming, "no_text")
        if any(not attachment.is_document for attachment in incoming.attachments):
            return await self._refused(mail, incoming, "attachment_type")
        if self.associations is None:
            return await asyncio.to_thread(
                self._finish, mail.id or 0, lambda s, m: hold(s, m, incoming, "unknown_address")
            )
        state, why = await self.associations(mail, incoming)
        return await asyncio.to_thread(self._finish, mail.id or 0, lambda s, m: (state, why))

    async def _refused(self, mail: InboundMail, incoming: Incoming, reason: str) -> Handled:
        return await asyncio.to_thread(
            self._finish,
            mail.id or 0,
            lambda s, m: refuse(s, m, incoming, reason, self.settings),
        )

    async def _admitted(self, mail: InboundMail, incoming: Incoming) -> bool:
        """Ask the per-person rate limit (per sender address); a flood is answered once."""
        if self.limiter is None or incoming.sender is None:
            return True
        verdict = await self.limiter.check(
            person_key("email", incoming.sender), mail.received_at.timestamp(), key=mail.key
        )
        if verdict == Verdict.OK:
            return True
        log.info("Rate limit for e-mail sender %s: %s", incoming.sender, verdict)

        def decide(session: Session, row: InboundMail) -> tuple[str, str | None]:
            if verdict == Verdict.NOTIFY:
                return refuse(session, row, incoming, "rate_limited", self.settings)
            return InboundMailState.REFUSED, "rate_limited"

        await asyncio.to_thread(self._finish, mail.id or 0, decide)
        return False

    async def recover(self) -> int:
        """Handle the mails a crash left stored but unhandled; return how many."""

        def ids() -> list[int]:
            with session_scope(self.engine) as session:
                return [m.id for m in inbound_mail.unhandled(session=session) if m.id]

        found = await asyncio.to_thread(ids)
        for mail_id in found:
            await self.handle(mail_id)
        return len(found)
