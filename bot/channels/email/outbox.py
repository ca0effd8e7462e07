"""The e-mail dispatcher: sends the outbox's e-mail rows over SMTP, each once.

The round is the outbox dispatchers' one skeleton (bot/channels/dispatch.py): it claims the due
rows (a lease in the database, so two dispatchers never send the same row), resolves each
recipient to a mailbox, renders it, adds the signed link into the desk and commits; then the
mail goes over SMTP on a worker thread, outside any transaction; then each outcome is recorded.
A refusal for now (4xx) is retried with exponential backoff; a refusal for good (5xx), too
many attempts, or no mailbox at all gives up on the row and alerts the coordinators. A server
that cannot be reached is not any address's fault: the rows wait, uncounted, while the
dispatcher backs off, and go out once the server is back.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels import dispatch
from bot.channels.email.compose import Link, Mail, compose, is_address
from bot.channels.email.smtp import Outcome, Server, ServerUnavailable, send_all
from bot.channels.email.threads import association_thread, reply_to_of
from bot.i18n import t
from bot.messages import render
from bot.messages.feedback_link import with_feedback_url
from bot.messages.formats import reference
from bot.settings import Settings
from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.notifications import Channel, Kind, Recipient
from db.enquiries.queue import record_digest
from db.enquiries.sla import LOCAL
from db.models import Department, Enquiry, EnquiryStatus, OutboxMessage, utcnow
from db.people import departments
from db.people.identities import identity_for
from db.people.sign_in import ENQUIRY_LINK_DAYS, create_enquiry_link
from db.plumbing.session import session_scope

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
"""Refusals for now (4xx) of one address before Lotsen gives up on the row."""
BATCH = 50
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
LINKED_KINDS = (Kind.FORWARD, Kind.REMINDER, Kind.ASSIGNED)
"""Messages to a department that carry a signed link to their enquiry."""
OPEN_ENQUIRY = (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)

Clock = dispatch.Clock
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


def waiting_mail(engine: Engine) -> int:
    """Return how many e-mails wait in the outbox (for a notice while e-mail is off)."""
    return dispatch.waiting(engine, Channel.EMAIL, MAX_ATTEMPTS)


def _claim(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    """Lease up to `limit` due rows nobody sends to this dispatcher, oldest first."""
    return dispatch.claim_due(session, Channel.EMAIL, MAX_ATTEMPTS, now, limit)


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
    if row.recipient == Recipient.ASSOCIATION and row.recipient_id is not None:
        # The person's e-mail identity (a web-chat visitor who left an address, for one).
        found = identity_for(session=session, person_id=row.recipient_id, channel=Channel.EMAIL)
        return found.address if found is not None else None
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
    feedback = (row.params or {}).get("feedback_url")
    if row.kind == Kind.ANSWER and isinstance(feedback, str):
        return Link(
            feedback,
            # Translators: the button under an answer sent by e-mail (the feedback page).
            t(language, "Hjälpte svaret? Svara med ett klick"),
            t(language, "Du kan också lämna en kommentar. Den publiceras aldrig."),
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
                with_feedback_url(session, row, settings)  # an answer: one tap via a link
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


def _record_one(
    session: Session, row: OutboxMessage, mail: Mail, outcome: Outcome, now: datetime
) -> bool:
    """Record what the server said to one mail; tell whether it was sent."""
    if outcome.sent:
        row.sent_at = now
        row.address = mail.to
        row.external_id = mail.message_id[:64]
        row.error = None
        return True
    row.attempts += 1
    if outcome.permanent or row.attempts >= MAX_ATTEMPTS:
        give_up(session, row, address=mail.to, problem=outcome.error or "")
    else:
        row.error = (outcome.error or "")[:500]
        row.not_before = now + retry_delay(row.attempts)
    return False


def record(
    engine: Engine, mails: Sequence[Mail], outcomes: Sequence[Outcome], now: datetime
) -> int:
    """Record each mail's outcome; mails without one are released to go again; return sent."""

    def handle(session: Session, row: OutboxMessage, mail: Mail, outcome: Outcome) -> bool:
        return _record_one(session, row, mail, outcome, now)

    return dispatch.record_each(engine, mails, outcomes, handle)


def digest_day(now: datetime, hour: int | None) -> date | None:
    """Return the local day whose digest is due at this moment (None before the hour, or off)."""
    if hour is None:
        return None
    local = now.astimezone(LOCAL)
    return local.date() if local.hour >= hour else None


class EmailDispatcher(dispatch.Dispatcher[Mail, Outcome]):
    """Send due e-mail every few seconds; back off while the server cannot be reached."""

    what = "e-mail"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Clock = utcnow,
        sender: Sender = send_all,
    ) -> None:
        super().__init__(engine, clock=clock)
        self.settings = settings
        self.server = server_of(settings)
        self.sender = sender
        self.digest_for: date | None = None

    def server_name(self) -> str:
        """Name the SMTP server for the log."""
        return f"SMTP server {self.server.host}:{self.server.port}"

    def before_round(self, now: datetime) -> None:
        """Queue the coordinator's digest once its hour has come (once a day)."""
        day = digest_day(now, self.settings.coordinator_digest_hour)
        if day is None or day == self.digest_for:
            return
        with session_scope(self.engine) as session:
            record_digest(session=session, day=day)
        self.digest_for = day

    def prepare(self, now: datetime) -> list[Mail]:
        """Claim the due e-mail rows and turn them into mails."""
        return prepare(self.engine, self.settings, now)

    async def deliver(self, items: list[Mail]) -> dispatch.Delivery[Outcome]:
        """Send the mails over SMTP on a worker thread."""
        try:
            outcomes = await asyncio.to_thread(self.sender, self.server, items)
        except ServerUnavailable as exc:
            return dispatch.Delivery(problem=str(exc))
        return dispatch.Delivery(outcomes=list(outcomes))

    def record(self, items: list[Mail], outcomes: list[Outcome], now: datetime) -> int:
        """Record the outcomes."""
        return record(self.engine, items, outcomes, now)


async def run_email(settings: Settings, engine: Engine, stop: asyncio.Event) -> None:
    """Serve the outbox's e-mail until `stop` is set (nothing while SMTP_HOST is unset)."""
    if not settings.email_enabled:
        return
    await EmailDispatcher(settings, engine).run(stop)
