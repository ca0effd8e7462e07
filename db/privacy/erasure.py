"""Erasure of a user's personal data: requested by the user, decided and carried out by staff.

Erasure is never silent: `request_erasure` puts a task in the coordinator's queue, and only
`erase_user` (run by the coordinator or an admin once decided) changes anything. Enquiries
are public records, so their rows stay; their texts are replaced by the "[gallrad]" marker.

An erased person keeps the row (enquiry statistics) with `erased_at` set, and loses every
channel identity: nothing ties the row to a Telegram user, an e-mail address or a web visitor
any more, and if the person writes again, the bot sees a new person. Reports and the audit
name the row only (the pseudonym "minus the row id", e.g. -17).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from db.enquiries import crud, lifecycle
from db.enquiries.notifications import Recipient
from db.models import (
    OPEN_STATUSES,
    AssociationUser,
    Enquiry,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    OutboxMessage,
    TrainingCandidate,
    utcnow,
)
from db.people.identities import identities_of
from db.people.limits import forget_person, person_key
from db.plumbing.audit import record
from db.plumbing.phrases import N_, Phrase
from db.privacy.catalogue import CHANNEL_STORES, dispose, of_person
from db.privacy.masking import clean_text, mask_personal_data
from db.privacy.personal_data import (
    desk_sign_ins,
    inbox_from,
    known_user,
    staff_person_id,
    telegram_ids,
    tracker_identities,
    user_enquiries,
)
from db.privacy.retention import CHANNEL_COUNTS, PURGED, anonymise_enquiry, count_lines

ERASURE_RESOLUTION = "erased"
ERASURE_REQUEST_TEXT = N_("Begäran om radering av personuppgifter")


def _open_erasure(*, session: Session, user: AssociationUser) -> Escalation | None:
    """Return the user's open erasure request in the queue, if there is one."""
    return session.exec(
        select(Escalation)
        .join(Enquiry, col(Enquiry.id) == Escalation.enquiry_id)
        .where(
            Enquiry.user_id == user.id,
            Escalation.reason == EscalationReason.ERASURE,
            col(Escalation.resolved_at).is_(None),
        )
    ).first()


@dataclass
class ErasureRequest:
    """An erasure request in the coordinator's queue."""

    enquiry: Enquiry
    escalation: Escalation
    created: bool


def request_erasure(
    *,
    session: Session,
    telegram_user_id: int,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> ErasureRequest:
    """Put a request to erase the data of the person with this Telegram id in the queue."""
    user = known_user(session=session, telegram_user_id=telegram_user_id)
    return request_erasure_for(session=session, person=user, actor=actor, note=note, now=now)


def request_erasure_for(
    *,
    session: Session,
    person: AssociationUser,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> ErasureRequest:
    """Put a request to erase a person's data in the coordinator's queue (once while open)."""
    now = now or utcnow()
    user = person
    existing = _open_erasure(session=session, user=user)
    if existing is not None:
        enquiry = session.get(Enquiry, existing.enquiry_id)
        assert enquiry is not None
        return ErasureRequest(enquiry=enquiry, escalation=existing, created=False)
    text = ERASURE_REQUEST_TEXT
    cleaned = mask_personal_data(clean_text(note or ""))
    if cleaned:
        text = f"{text}\n{cleaned}"
    enquiry, _ = lifecycle.received(
        session=session, text=text, language=user.language, user=user, now=now
    )
    escalation = lifecycle.escalated(
        session=session, enquiry=enquiry, reason=EscalationReason.ERASURE, actor=actor, now=now
    )
    return ErasureRequest(enquiry=enquiry, escalation=escalation, created=True)


@dataclass
class ErasureReport:
    """What an erasure changed, counted per kind of data."""

    user_row_id: int
    pseudonym: int
    counts: dict[str, int] = field(default_factory=dict)
    open_references: list[str] = field(default_factory=list)
    staff_roles_kept: int = 0
    tracker_store: str = "not checked"

    def lines(self) -> list[Phrase]:
        """Return the report: a heading, then the lines that belong indented under it."""
        head = Phrase(
            N_("Föreningsanvändare #{row} raderad (nu id {pseudonym}):"),
            {"row": self.user_row_id, "pseudonym": self.pseudonym},
        )
        lines = [head, *count_lines(self.counts, self.tracker_store)]
        if self.open_references:
            references = ", ".join(self.open_references)
            lines.append(
                Phrase(
                    N_("Obs: fortfarande öppna, nu utan text: {references}"),
                    {"references": references},
                )
            )
        if self.staff_roles_kept:
            lines.append(
                Phrase(
                    # Translators: the staff roles belong to the same Telegram user.
                    N_(
                        "Obs: personalroller som finns kvar: {count}; ta bort dem med "
                        "`lotsen staff remove` om de också ska bort."
                    ),
                    {"count": self.staff_roles_kept},
                )
            )
        return lines


def erase_user(
    *,
    session: Session,
    telegram_user_id: int,
    actor: str,
    tracker_url: str | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase the data of the person with this Telegram id (all their identities)."""
    user = known_user(session=session, telegram_user_id=telegram_user_id)
    return erase_person(session=session, person=user, actor=actor, tracker_url=tracker_url, now=now)


def erase_person(
    *,
    session: Session,
    person: AssociationUser,
    actor: str,
    tracker_url: str | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase a person's personal data across all their channel identities, keeping enquiry
    rows (public records) without their texts."""
    now = now or utcnow()
    user = person
    assert user.id is not None
    identities = identities_of(session=session, person_id=user.id)
    telegram = telegram_ids(identities)
    enquiries = user_enquiries(session=session, user=user)
    erasure_requests = {
        e.enquiry_id
        for e in session.exec(
            select(Escalation).where(
                col(Escalation.enquiry_id).in_([q.id for q in enquiries]),
                Escalation.reason == EscalationReason.ERASURE,
            )
        )
    }
    counts = {
        "enquiries_anonymised": 0,
        "erasure_requests_closed": 0,
        "training_candidates_redacted": 0,
        "inbox_updates_deleted": 0,
        "outbox_messages_deleted": 0,
        "outbox_messages_redacted": 0,
        "tracker_events_deleted": 0,
        "desk_sign_ins_deleted": 0,
        "inbound_mails_redacted": 0,
        "web_chats_deleted": 0,
    }
    tracker_state = "not checked"
    if tracker_url is not None:
        # First, before this session writes: on SQLite the tracker store may share the file.
        from db.enquiries.tracker_events import delete_user_events, tracker_store

        with tracker_store(tracker_url) as connection:
            tracker_state = "no events table yet" if connection is None else "checked"
            if connection is not None:
                counts["tracker_events_deleted"] = delete_user_events(
                    connection, tracker_identities(identities)
                )
    open_references: list[str] = []
    for enquiry in enquiries:
        if enquiry.id in erasure_requests:
            counts["erasure_requests_closed"] += _close_request(
                session=session, enquiry=enquiry, actor=actor, now=now
            )
        else:
            anonymise_enquiry(session=session, enquiry=enquiry)
            counts["enquiries_anonymised"] += 1
            if enquiry.status in OPEN_STATUSES:
                open_references.append(enquiry.reference or f"#{enquiry.id}")
        enquiry.chat_id = None
        enquiry.message_key = None  # <channel>:<conversation>:…: names the writer's chat
    for candidate in session.exec(
        select(TrainingCandidate).where(
            col(TrainingCandidate.enquiry_id).in_([q.id for q in enquiries])
        )
    ):
        candidate.text = PURGED
        candidate.accepted = False
        candidate.reviewed_at = now
        candidate.reviewed_by = "erasure"
        counts["training_candidates_redacted"] += 1
    for telegram_user_id in telegram:
        for row in inbox_from(session=session, telegram_user_id=telegram_user_id):
            session.delete(row)
            counts["inbox_updates_deleted"] += 1
        for sign_in in desk_sign_ins(session=session, telegram_user_id=telegram_user_id):
            session.delete(sign_in)  # ends any desk session of theirs too
            counts["desk_sign_ins_deleted"] += 1
    # The channels' own stores (raw e-mails, web chats), as db/privacy/catalogue.py describes.
    enquiry_ids = [q.id for q in enquiries if q.id is not None]
    for model in CHANNEL_STORES:
        mine = of_person(model, identities=identities, enquiry_ids=enquiry_ids)
        counts[CHANNEL_COUNTS[model]] = dispose(session, model, mine)
    for identity in identities:
        # the rate limit's bucket and refusals, then the identity itself
        forget_person(session, person=person_key(identity.channel, identity.address))
        session.delete(identity)
    pseudonym = -user.id
    _erase_outbox(session=session, user=user, enquiries=enquiries, counts=counts)
    user.erased_at = now
    user.awaiting = None
    report = ErasureReport(
        user_row_id=user.id,
        pseudonym=pseudonym,
        counts=counts,
        open_references=open_references,
        staff_roles_kept=sum(
            len(crud.staff_roles(session=session, person_id=staff_person_id(session, t)))
            for t in telegram
        ),
        tracker_store=tracker_state,
    )
    # The audit row names the pseudonym only: no erased identity is written anywhere.
    record(
        session=session,
        actor=actor,
        entity="association_user",
        key=f"user#{user.id}",
        action="erase",
        before=None,
        after={"pseudonym": pseudonym, "identities_deleted": len(identities), **counts},
        now=now,
    )
    session.flush()
    return report


def _close_request(*, session: Session, enquiry: Enquiry, actor: str, now: datetime) -> int:
    """Resolve an open erasure request as carried out; return 1 if it was open."""
    if enquiry.status == EnquiryStatus.CLOSED:
        lifecycle.resolve_open(
            session=session, enquiry=enquiry, resolution=ERASURE_RESOLUTION, now=now
        )
        return 0
    lifecycle.closed(
        session=session,
        enquiry=enquiry,
        actor=actor,
        reason=ERASURE_RESOLUTION,
        now=now,
        resolution=ERASURE_RESOLUTION,
    )
    return 1


def _erase_outbox(
    *,
    session: Session,
    user: AssociationUser,
    enquiries: list[Enquiry],
    counts: dict[str, int],
) -> None:
    """Delete unsent messages to the user; strip sent ones and those about their enquiries."""
    enquiry_ids = [q.id for q in enquiries]
    to_user = (col(OutboxMessage.recipient) == Recipient.ASSOCIATION) & (
        col(OutboxMessage.recipient_id) == user.id
    )
    rows = session.exec(
        select(OutboxMessage).where(to_user | col(OutboxMessage.enquiry_id).in_(enquiry_ids))
    ).all()
    for message in rows:
        mine = message.recipient == Recipient.ASSOCIATION and message.recipient_id == user.id
        if mine and message.sent_at is None:
            session.delete(message)
            counts["outbox_messages_deleted"] += 1
            continue
        if message.params or (mine and message.address is not None):
            message.params = {}
            if mine:
                message.address = None
            counts["outbox_messages_redacted"] += 1
