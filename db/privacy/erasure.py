"""Erasure of a user's personal data: requested by the user, decided and carried out by staff.

Erasure is never silent: `request_erasure` puts a task in the coordinator's queue, and only
`erase_user` (run by the coordinator or an admin once decided) changes anything. Enquiries
are public records, so their rows stay; their texts are replaced by the "[gallrad]" marker.

An erased person keeps the row (enquiry statistics) with `erased_at` set, and loses every
channel identity: nothing ties the row to a chat-app user, an e-mail address or a web visitor
any more, and if the person writes again, the bot sees a new person. Reports and the audit
name the row only (the pseudonym "minus the row id", e.g. -17).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlmodel import Session, col, select

from db.enquiries import lifecycle
from db.models import (
    OPEN_STATUSES,
    AssociationUser,
    Enquiry,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    StaffMember,
    utcnow,
)
from db.people.identities import identities_of
from db.plumbing.audit import record
from db.plumbing.phrases import N_, Phrase
from db.privacy import catalogue
from db.privacy.masking import clean_text, mask_personal_data
from db.privacy.personal_data import known_person
from db.privacy.retention import count_lines
from db.privacy.stores import Subject, carry_out, find, rows_of, subject_of

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
    channel: str,
    address: str,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> ErasureRequest:
    """Put a request to erase the data of the person with this identity in the queue."""
    user = known_person(session=session, channel=channel, address=address)
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
                    # Translators: the staff roles belong to the same person.
                    N_(
                        "Obs: personalroller som finns kvar: {count}; ta bort dem med "
                        "`lotsen staff remove` om de också ska bort."
                    ),
                    {"count": self.staff_roles_kept},
                )
            )
        return lines


ERASURE_COUNTS = (
    "enquiries_anonymised",
    "erasure_requests_closed",
    "training_candidates_redacted",
    "inbox_updates_deleted",
    "outbox_messages_deleted",
    "outbox_messages_redacted",
    "tracker_events_deleted",
    "desk_sign_ins_deleted",
    "inbound_mails_redacted",
    "web_chats_deleted",
)
"""What an erasure reports, in this order (a store added to the catalogue adds its count)."""


def erase_identity(
    *,
    session: Session,
    channel: str,
    address: str,
    actor: str,
    tracker_url: str | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase the data of the person with this identity (all their identities)."""
    user = known_person(session=session, channel=channel, address=address)
    return erase_person(session=session, person=user, actor=actor, tracker_url=tracker_url, now=now)


def erase_person(
    *,
    session: Session,
    person: AssociationUser,
    actor: str,
    tracker_url: str | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase a person's personal data across all their channel identities, as every store of
    db/privacy/catalogue.py says, keeping enquiry rows (public records) without their texts."""
    now = now or utcnow()
    user = person
    assert user.id is not None
    identities = identities_of(session=session, person_id=user.id)
    subject = subject_of(session, user, identities)
    counts = dict.fromkeys(ERASURE_COUNTS, 0)
    tracker_state = "not checked"
    if tracker_url is not None:
        # First, before this session writes: on SQLite the tracker store may share the file.
        from db.enquiries.tracker_events import delete_user_events, tracker_store

        with tracker_store(tracker_url) as connection:
            tracker_state = "no events table yet" if connection is None else "checked"
            if connection is not None:
                counts["tracker_events_deleted"] = delete_user_events(
                    connection, list(subject.identities)
                )
    # Erasure requests are carried out (closed), their texts stay; the others are anonymised.
    requests = _erasure_requests(session=session, enquiry_ids=subject.enquiry_ids)
    subject = replace(subject, anonymised_ids=tuple(set(subject.enquiry_ids) - requests))
    open_references: list[str] = []
    for enquiry_id in subject.enquiry_ids:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        if enquiry_id in requests:
            counts["erasure_requests_closed"] += _close_request(
                session=session, enquiry=enquiry, actor=actor, now=now
            )
        elif enquiry.status in OPEN_STATUSES:
            open_references.append(enquiry.reference or f"#{enquiry.id}")
    plan = []
    for described in catalogue.STORES:
        for rule in described.erase:
            keys = find(session, described, rule, subject)
            plan.append((described, rule, keys))
            if rule.count is not None:
                counts[rule.count] = counts.get(rule.count, 0) + len(keys)
    staff_roles_kept = _staff_roles_kept(session=session, subject=subject)
    for described, rule, keys in reversed(plan):
        carry_out(session, described, rule, keys, now)
    pseudonym = -user.id
    report = ErasureReport(
        user_row_id=user.id,
        pseudonym=pseudonym,
        counts=counts,
        open_references=open_references,
        staff_roles_kept=staff_roles_kept,
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


def _staff_roles_kept(*, session: Session, subject: Subject) -> int:
    """Return how many staff roles the person's identities hold (not erased: staff)."""
    return len(rows_of(session, catalogue.store(StaffMember), subject))


def _erasure_requests(*, session: Session, enquiry_ids: Sequence[int]) -> set[int]:
    """Return which of these enquiries are erasure requests."""
    return {
        e.enquiry_id
        for e in session.exec(
            select(Escalation).where(
                col(Escalation.enquiry_id).in_(enquiry_ids),
                Escalation.reason == EscalationReason.ERASURE,
            )
        )
    }


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
