"""The e-mail dispatcher: sends the outbox's e-mail rows over SMTP, each once.

A round claims the due rows (db/plumbing/claims.py: a lease in the database, so two dispatchers
never send the same row), resolves each recipient to a mailbox, renders it, adds the signed link
into the desk and commits; then the mail goes over SMTP on a worker thread, outside any transaction;
then each outcome is recorded. A refusal for now (4xx) is retried with exponential backoff; a
refusal for good (5xx), too many attempts, or no mailbox at all gives up on the row and alerts
the coordinators. A server that cannot be reached is not any address's fault: the rows wait,
uncounted, while the dispatcher backs off, and go out once the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from bot.channels.email.compose import Link, Mail, compose, is_address
from bot.channels.email.smtp import Outcome, Server, ServerUnavailable, send_all
from bot.channels.email.threads import association_thread, reply_to_of
from bot.i18n import t
from bot.messages import render
from bot.messages.formats import reference
from bot.settings import Settings
from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.notifications import Channel, Kind, Recipient
from db.enquiries.queue import record_digest
from db.enquiries.sla import LOCAL
from db.models import Department, Enquiry, EnquiryStatus, OutboxMessage, utcnow
from db.people import departments
from db.people.sign_in import ENQUIRY_LINK_DAYS, create_enquiry_link
from db.plumbing import claims
from db.plumbing.session import session_scope

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
"""Refusals for now (4xx) of one address before Lotsen gives up on the row."""
BATCH = 50
LEASE = timedelta(minutes=10)
"""How long a claimed row is left to its dispatcher before another may send it."""
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
SERVER_PAUSE_BASE = 5.0
SERVER_PAUSE_MAX = 900.0
LINKED_KINDS = (Kind.FORWARD, Kind.REMINDER, Kind.ASSIGNED)
"""Messages to a department that carry a signed link to their enquiry."""
OPEN_ENQUIRY = (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)

Clock = Callable[[], datetime]
Sender = Callable[[Server, Sequence[Mail]], list[Outcome]]


def retry_delay(attempts: int) -> timedelta:
    """Return how long a row waits after its n-th refusal for now (30 s, 1 min, … 1 h)."""
    return min(RETRY_MAX, RETRY_BASE * (1 << min(max(attempts - 1, 0), 16)))


def server_of(settings: Settings) -> Server:
    """Return the SMTP server of the settings (e-mail must be switched on)."""
    assert settings.smtp_host
    return Server(
        host=settings.smtp_host.strip(),
        port=settings.smtp_port,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout_seconds,
    )


def _pending() -> list[ColumnElement[bool]]:
    return [
        col(OutboxMessage.channel) == Channel.EMAIL,
        col(OutboxMessage.sent_at).is_(None),
        col(OutboxMessage.attempts) < MAX_ATTEMPTS,
    ]


def waiting_mail(engine: Engine) -> int:
    """Return how many e-mails wait in the outbox (for a notice while e-mail is off)."""
    with session_scope(engine) as session:
        return int(
            session.exec(select(func.count()).select_from(OutboxMessage).where(*_pending())).one()
        )


def _claim(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    """Lease up to `limit` due rows nobody sends to this dispatcher, oldest first."""
    return claims.claim_rows(
        session,
        OutboxMessage,
        order=col(OutboxMessage.id),
        pending=_pending(),
        # refused for now: waiting for the retry
        due=[col(OutboxMessage.not_before).is_(None) | (col(OutboxMessage.not_before) <= now)],
        lease=LEASE,
        now=now,
        limit=limit,
    )


def coordinator_mailbox(session: Session, settings: Settings) -> str | None:
    """Return the coordinator's mailbox: COORDINATOR_EMAIL, else the municipality's."""
    if settings.coordinator_email:
        return settings.coordinator_email.strip()
    return crud.get_municipality(session=session).coordinator_email


def mailbox_of(
    session: Session, row: OutboxMessage, settings: Settings, now: datetime
) -> str | None:
    """Return the address an e-mail row goes to (None when the recipient has no mailbox)."""
    if row.recipient == Recipient.DEPARTMENT:
        department = session.get(Department, row.recipient_id) if row.recipient_id else None
        if department is None:
            return None
        return departments.department_mailbox(session=session, department=department, now=now)
    if row.recipient == Recipient.COORDINATORS:
        return coordinator_mailbox(session, settings)
    if row.recipient == Recipient.REGISTRAR:
        return registrar_mailbox(session, settings)
    if row.recipient == Recipient.MAILBOX:
        return str(row.params.get("to") or "") or None
    return None


def registrar_mailbox(session: Session, settings: Settings) -> str | None:
    """Return the registrar's mailbox: REGISTRAR_EMAIL, else the coordinator's."""
    if settings.registrar_email and settings.registrar_email.strip():
        return settings.registrar_email.strip()
    return coordinator_mailbox(session, settings)


def _link(
    session: Session, row: OutboxMessage, mailbox: str, settings: Settings, now: datetime
) -> Link | None:
    """Return the link under an e-mail: the signed enquiry link, or the desk for coordinators."""
    language = row.language
    if row.recipient == Recipient.COORDINATORS:
        enquiry = session.get(Enquiry, row.enquiry_id) if row.enquiry_id else None
        path = f"/desk/enquiries/{enquiry.reference}" if enquiry and enquiry.reference else ""
        return Link(
            f"{settings.desk_url}{path or '/desk/queue'}",
            t(language, "Öppna skrivbordet"),
            t(language, "Du loggar in som vanligt."),
        )
    enquiry = session.get(Enquiry, row.enquiry_id) if row.enquiry_id else None
    if row.kind not in LINKED_KINDS or enquiry is None or enquiry.status not in OPEN_ENQUIRY:
        return None
    given = row.params.get("link_expires")
    expires = datetime.fromisoformat(given) if isinstance(given, str) else None
    if expires is None:  # fixed at the first attempt: every later attempt carries the same link
        expires = now + timedelta(days=ENQUIRY_LINK_DAYS)
        row.params = {**row.params, "link_expires": expires.isoformat()}
    url = create_enquiry_link(
        session=session,
        secret=settings.link_signing_key(),
        key=f"m{row.id}",
        enquiry=enquiry,
        mailbox=mailbox,
        expires_at=expires,
        base_url=settings.desk_url,
        now=now,
    )
    return Link(
        url,
        t(language, "Öppna ärendet"),
        t(
            language,
            "Länken gäller i {days} dagar eller tills ärendet är besvarat, och kan användas "
            "en gång. Den loggar in dig på just det här ärendet.",
            days=ENQUIRY_LINK_DAYS,
        ),
    )


def give_up(session: Session, row: OutboxMessage, *, address: str | None, problem: str) -> None:
    """Stop trying a row for good and alert the coordinators (not by e-mail about their own)."""
    row.attempts = MAX_ATTEMPTS
    row.error = problem[:500]
    row.claimed_until = None
    log.error("E-mail %s (%s) to %s given up: %s", row.id, row.kind, address, problem)
    channels = [Channel.TELEGRAM]
    if row.recipient != Recipient.COORDINATORS:
        channels.append(Channel.EMAIL)
    for channel in channels:
        notify.to_coordinators(
            session=session,
            kind=Kind.MAIL_FAILED,
            enquiry_id=row.enquiry_id,
            channel=channel,
            dedupe_key=f"mail_failed:{row.id}:{channel}",
            failed_kind=row.kind,
            address=address or "–",
            problem=problem[:300],
        )


def installation_of(settings: Settings) -> str:
    """Return a short name of this installation for Message-IDs (from the link-signing key)."""
    return hmac.new(settings.link_signing_key(), b"message-id", hashlib.sha256).hexdigest()[:10]


def prepare(engine: Engine, settings: Settings, now: datetime, *, limit: int = BATCH) -> list[Mail]:
    """Claim the due e-mail rows and turn them into mails (one transaction, no network)."""
    mails: list[Mail] = []
    installation = installation_of(settings)
    with session_scope(engine) as session:
        municipality = crud.get_municipality(session=session).name
        for row in _claim(session, now, limit):
            assert row.id is not None
            thread = association_thread(session, row)  # an association that wrote by e-mail
            address = thread[0] if thread else mailbox_of(session, row, settings, now)
            if address is None or not is_address(address):
                give_up(session, row, address=address, problem="no usable mailbox")
                continue
            try:
                message = render(session, row)
            except (KeyError, LookupError) as exc:
                give_up(session, row, address=address, problem=f"cannot be rendered: {exc!r}")
                continue
            enquiry = session.get(Enquiry, row.enquiry_id) if row.enquiry_id else None
            reply_to = reply_to_of(row, settings, now)
            mails.append(
                compose(
                    row_id=row.id,
                    kind=row.kind,
                    message=message,
                    reference=reference(enquiry) if enquiry is not None else "–",
                    to=address,
                    reply_to=reply_to or address,
                    sender=settings.smtp_from,
                    language=row.language,
                    municipality=municipality,
                    link=_link(session, row, address, settings, now),
                    installation=installation,
                    answer_by_reply=reply_to is not None,
                    thread=thread[1] if thread else None,
                )
            )
    return mails


def record(
    engine: Engine, mails: Sequence[Mail], outcomes: Sequence[Outcome], now: datetime
) -> int:
    """Record each mail's outcome; mails without one are released to go again; return sent."""
    by_row = {outcome.row_id: outcome for outcome in outcomes}
    sent = 0
    with session_scope(engine) as session:
        for mail in mails:
            row = session.get(OutboxMessage, mail.row_id)
            if row is None:
                continue
            outcome = by_row.get(mail.row_id)
            row.claimed_until = None  # done with, or (never handed over) free for the next round
            if outcome is None:
                continue
            if outcome.sent:
                row.sent_at = now
                row.address = mail.to
                row.external_id = mail.message_id[:64]
                row.error = None
                sent += 1
            elif outcome.permanent or row.attempts + 1 >= MAX_ATTEMPTS:
                row.attempts += 1
                give_up(session, row, address=mail.to, problem=outcome.error or "")
            else:
                row.attempts += 1
                row.error = (outcome.error or "")[:500]
                row.not_before = now + retry_delay(row.attempts)
    return sent


def release(engine: Engine, mails: Sequence[Mail], problem: str) -> None:
    """Free claimed rows that could not be handed over (the server was away); nothing counts."""
    with session_scope(engine) as session:
        for mail in mails:
            row = session.get(OutboxMessage, mail.row_id)
            if row is not None and row.sent_at is None:
                row.claimed_until = None
                row.error = problem[:500]


def digest_day(now: datetime, hour: int | None) -> date | None:
    """Return the local day whose digest is due at this moment (None before the hour, or off)."""
    if hour is None:
        return None
    local = now.astimezone(LOCAL)
    return local.date() if local.hour >= hour else None


@dataclass
class _State:
    server_failures: int = 0
    paused_until: datetime | None = None
    digest_for: date | None = None


class EmailDispatcher:
    """Send due e-mail every few seconds; back off while the server cannot be reached."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Clock = utcnow,
        sender: Sender = send_all,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.server = server_of(settings)
        self.clock = clock
        self.sender = sender
        self.state = _State()

    async def step(self) -> int:
        """Run one round (the digest when due, then due mail); return how many were sent."""
        now = self.clock()
        if self.state.paused_until is not None and now < self.state.paused_until:
            return 0
        await asyncio.to_thread(self._queue_digest, now)
        mails = await asyncio.to_thread(prepare, self.engine, self.settings, now)
        if not mails:
            return 0
        try:
            outcomes = await asyncio.to_thread(self.sender, self.server, mails)
        except ServerUnavailable as exc:
            await asyncio.to_thread(release, self.engine, mails, str(exc))
            self._pause(now, str(exc))
            return 0
        sent = await asyncio.to_thread(record, self.engine, mails, outcomes, self.clock())
        if len(outcomes) < len(mails):
            self._pause(now, "the connection broke off")
        else:
            self.state.server_failures, self.state.paused_until = 0, None
        return sent

    def _pause(self, now: datetime, problem: str) -> None:
        self.state.server_failures += 1
        seconds = min(SERVER_PAUSE_MAX, SERVER_PAUSE_BASE * 2 ** (self.state.server_failures - 1))
        self.state.paused_until = now + timedelta(seconds=seconds)
        log.warning(
            "SMTP server %s:%s unavailable (%s); e-mail waits, next try in %.0f s",
            self.server.host,
            self.server.port,
            problem,
            seconds,
        )

    def _queue_digest(self, now: datetime) -> None:
        day = digest_day(now, self.settings.coordinator_digest_hour)
        if day is None or day == self.state.digest_for:
            return
        with session_scope(self.engine) as session:
            record_digest(session=session, day=day)
        self.state.digest_for = day

    async def run(self, stop: asyncio.Event, interval: float = 5.0) -> None:
        """Send due e-mail until `stop` is set; a database outage only delays it."""
        while not stop.is_set():
            try:
                while await self.step():
                    pass  # a full batch went out: there may be more
            except OperationalError as exc:
                log.warning("Database unavailable (%s); e-mail dispatch will retry", exc)
            except Exception:
                log.exception("E-mail dispatch failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


async def run_email(settings: Settings, engine: Engine, stop: asyncio.Event) -> None:
    """Serve the outbox's e-mail until `stop` is set (nothing while SMTP_HOST is unset)."""
    if not settings.email_enabled:
        return
    await EmailDispatcher(settings, engine).run(stop)
